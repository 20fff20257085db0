/**
 * Zod schemas of the frames and method parameters described in `wire.ts`,
 * used by servers to validate what clients send. Kept apart from `wire.ts` so
 * that clients (browser bundles) do not carry zod.
 *
 * @module
 */
import { z } from "zod";
import type {
  CreditParams,
  HelloParams,
  RpcRequest,
  SubscribeParams,
  WatchParams,
} from "./wire.ts";

/** Validates a request frame's envelope (params are validated per method). */
export const rpcRequestSchema: z.ZodType<RpcRequest> = z.object({
  id: z.union([z.number().int(), z.string().min(1).max(64)]),
  method: z.string().min(1).max(64),
  params: z.unknown().optional(),
}) as z.ZodType<RpcRequest>;

/** Validates `hello` params. */
export const helloParamsSchema: z.ZodType<HelloParams> = z.object({
  token: z.string().max(4096).optional(),
  clientId: z.string().max(256).optional(),
  protocol: z.number().int().optional(),
  ack: z.boolean().optional(),
});

/** Validates `subscribe` params. */
export const subscribeParamsSchema: z.ZodType<SubscribeParams> = z.object({
  workerId: z.string().min(1).max(256),
  types: z.array(z.string().min(1).max(128)).max(100).optional(),
  credits: z.number().int().min(0).max(10_000),
  leaseMs: z.number().int().min(1).max(24 * 3600_000).optional(),
});

/** Validates `credit` params. */
export const creditParamsSchema: z.ZodType<CreditParams> = z.object({
  credits: z.number().int().min(1).max(10_000),
});

/** Validates the parameters of `watch` (at most 1,000 ids and 100 types). */
export const watchParamsSchema: z.ZodType<WatchParams> = z.object({
  ids: z.array(z.string().min(1).max(256)).max(1000).optional(),
  types: z.array(z.string().min(1).max(128)).max(100).optional(),
}) as z.ZodType<WatchParams>;
