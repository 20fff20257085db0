/**
 * The shape every benchmark suite returns, and how it is printed.
 *
 * @module
 */
import { markdownTable } from "./stats.ts";

/** One table of results with its title and notes. */
export interface Section {
  /** A markdown heading (without the `#`s). */
  title: string;
  /** Column headers. */
  headers: string[];
  /** Rows of formatted cells. */
  rows: string[][];
  /** Lines printed under the table (how it was measured, caveats). */
  notes: string[];
}

/** Renders a section as markdown: `### title`, the table, then the notes as a list. */
export function renderSection(section: Section): string {
  const parts = [`### ${section.title}`, "", markdownTable(section.headers, section.rows)];
  if (section.notes.length > 0) {
    parts.push("", ...section.notes.map((note) => `- ${note}`));
  }
  return parts.join("\n");
}

/** Where a suite reports progress (stderr by default in `main.ts`, so stdout holds only tables). */
export type ProgressLog = (line: string) => void;
