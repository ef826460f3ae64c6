// Drives hourglass's client API with AvaProtocol's own SDK (@avaprotocol/sdk-js), used exactly as an app uses it.
//
//   node driver.mjs SCENARIO '{"endpoint": "127.0.0.1:2206", "factory": "0x…", "key": "0x…", …}'
//
// Runs one scenario (a batch of SDK calls) and prints ONE JSON document on stdout: what each call returned, or the
// error it threw ({error: {message, code}}: the SDK strips gRPC's "5 NOT_FOUND: " prefix from messages, so this is
// what an app sees). The Python suite (tests/api/test_sdk.py) asserts on that document; nothing is asserted here.
// Anything else the SDK prints goes to stderr.

import sdk from "@avaprotocol/sdk-js";
import types from "@avaprotocol/types";
import { Wallet } from "ethers";

import { scenarios as authScenarios } from "./auth_scenarios.mjs";
import { scenarios as toolScenarios } from "./tool_scenarios.mjs";
import { scenarios as workflowScenarios } from "./workflow_scenarios.mjs";

const { Client, Edge, NodeFactory, TriggerFactory } = sdk;
const { TriggerType, NodeType, ExecutionStatus } = types;

console.log = console.error; // keep stdout for the result document only
console.info = console.error;

/** {value} or {error: {message, code}} of an SDK call (sync or async). */
export async function attempt(fn) {
  try {
    return { value: await fn() };
  } catch (e) {
    return { error: { message: String(e?.message ?? e), code: e?.code ?? null, details: e?.details ?? null } };
  }
}

/** Poll `check` every 50 ms until it returns something truthy or `seconds` pass (then the last value). */
export async function pollUntil(check, seconds) {
  const stop = Date.now() + seconds * 1000;
  let value = await check();
  while (!value && Date.now() < stop) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    value = await check();
  }
  return value;
}

/** The claims of a JWT (no verification: to report what the server put in it). */
export function claims(token) {
  try {
    return JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString());
  } catch {
    return null;
  }
}

/** A client signed in as `wallet` through getSignatureFormat → personal_sign → authWithSignature. */
export async function signIn(params, wallet) {
  const client = new Client({ endpoint: params.endpoint, factoryAddress: params.factory });
  const { message } = await client.getSignatureFormat(wallet.address);
  const signature = await wallet.signMessage(message);
  const { authKey } = await client.authWithSignature({ message, signature });
  client.setAuthKey(authKey);
  return client;
}

/** A manual-trigger workflow's props for `runner` (SDK shape: type strings, data objects). */
/** WorkflowProps for `client.createWorkflow`: a manual trigger, then `nodes` (plain NodeProps) in a chain; the
 * trigger, nodes and edges as the SDK's model objects (TriggerFactory, NodeFactory, Edge), as its docs build them. */
export function manualWorkflow(runner, name, nodes, { data = { n: 1 }, maxExecution = 0, edges } = {}) {
  const trigger = { id: "trigger01", name: "trigger", type: TriggerType.Manual, data: { data } };
  const chain = edges ?? nodes.map((node, i) => ({ id: `edge${i}`, source: i === 0 ? trigger.id : nodes[i - 1].id,
                                                   target: node.id }));
  return {
    smartWalletAddress: runner,
    name,
    trigger: TriggerFactory.create(trigger),
    nodes: NodeFactory.createNodes(nodes),
    edges: chain.map((edge) => new Edge(edge)),
    startAt: Date.now() - 1000,
    expiredAt: Date.now() + 24 * 3600 * 1000,
    maxExecution,
    inputVariables: { settings: { name, runner, chain_id: params().chainId } },
  };
}

export function restNode(id, name, url, headers = {}) {
  return { id, name, type: NodeType.RestAPI, data: { url, method: "GET", body: "", headers } };
}

export function codeNode(id, name, source) {
  return { id, name, type: NodeType.CustomCode, data: { lang: types.Lang.JavaScript, source } };
}

/** Wait until an execution is no longer pending; its last status and how long it took. */
export async function settle(client, workflowId, executionId, seconds = 30) {
  const started = Date.now();
  let status;
  await pollUntil(async () => {
    status = await client.getExecutionStatus(workflowId, executionId);
    return status !== ExecutionStatus.Pending;
  }, seconds);
  return { status, waitedMs: Date.now() - started };
}

let PARAMS;
export function params() {
  return PARAMS;
}

export const helpers = { attempt, pollUntil, claims, signIn, manualWorkflow, restNode, codeNode, settle, params,
                         Client, Wallet, TriggerType, NodeType, ExecutionStatus, TriggerFactory, types };

function toJson(value) {
  return JSON.stringify(value, (_key, v) => (typeof v === "bigint" ? v.toString() : v === undefined ? null : v));
}

async function main() {
  const [name, raw] = process.argv.slice(2);
  PARAMS = JSON.parse(raw ?? process.env.HG_SDK_PARAMS ?? "{}");
  const all = { ...authScenarios, ...workflowScenarios, ...toolScenarios };
  const scenario = all[name];
  if (!scenario) {
    process.stderr.write(`unknown scenario ${name}; one of ${Object.keys(all).join(", ")}\n`);
    process.exit(2);
  }
  const started = Date.now();
  const result = await scenario(PARAMS, helpers);
  result.elapsedMs = Date.now() - started;
  process.stdout.write(toJson(result) + "\n");
  process.exit(0); // the gRPC channel would keep the process alive
}

main().catch((e) => {
  process.stderr.write(`scenario failed outside a recorded call: ${e?.stack ?? e}\n`);
  process.exit(1);
});
