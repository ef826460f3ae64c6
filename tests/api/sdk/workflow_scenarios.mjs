// Scenarios of workflows (the wire's tasks), their executions and secrets. Each returns what it observed.

const ULID_NOBODY_HAS = "01ARZ3NDEKTSV4RRFFQ69G5FAV";

function ids(page) {
  return page.value ? page.value.items.map((w) => w.id) : null;
}

async function workflows(p, h) {
  const client = await h.signIn(p, new h.Wallet(p.key));
  const out = {};
  const wallet = (await client.getWallet({ salt: "0" })).address;
  out.wallet = wallet;
  const created = [];
  for (let i = 0; i < p.count; i++) {
    const name = `wf${String(i).padStart(2, "0")}`;
    const workflow = client.createWorkflow(h.manualWorkflow(wallet, name,
      [h.restNode("rest01", "fetch", `${p.restUrl}/never`)], { maxExecution: i === 0 ? 3 : 0 }));
    created.push(await client.submitWorkflow(workflow));
  }
  out.created = created;
  out.count = await h.attempt(() => client.getWorkflowCount([wallet]));

  // forward: newest first, `after` the end cursor of the page before
  const page1 = await h.attempt(() => client.getWorkflows([wallet], { limit: 5 }));
  const page2 = await h.attempt(() => client.getWorkflows([wallet], { limit: 5, after: page1.value.pageInfo.endCursor }));
  const page3 = await h.attempt(() => client.getWorkflows([wallet], { limit: 5, after: page2.value.pageInfo.endCursor }));
  // backward: `before` the start cursor of the page after
  const back2 = await h.attempt(() => client.getWorkflows([wallet], { limit: 5, before: page3.value.pageInfo.startCursor }));
  const back1 = await h.attempt(() => client.getWorkflows([wallet], { limit: 5, before: back2.value.pageInfo.startCursor }));
  out.pages = Object.fromEntries(Object.entries({ page1, page2, page3, back2, back1 }).map(
    ([k, v]) => [k, { ids: ids(v), pageInfo: v.value?.pageInfo ?? null, error: v.error ?? null }]));
  out.firstListed = page1.value?.items[0] ?? null;
  out.defaultLimit = await h.attempt(async () => (await client.getWorkflows([wallet])).items.length);
  out.withNodes = await h.attempt(async () => {
    const page = await client.getWorkflows([wallet], { limit: 1, includeNodes: true, includeEdges: true });
    return { nodes: page.items[0].nodes.length, edges: page.items[0].edges.length };
  });
  out.badCursor = await h.attempt(() => client.getWorkflows([wallet], { limit: 5, after: "not-a-cursor" }));
  out.negativeLimit = await h.attempt(() => client.getWorkflows([wallet], { limit: -1 }));
  out.notMyWallet = await h.attempt(() => client.getWorkflows([h.Wallet.createRandom().address]));

  // one workflow whole
  const first = created[0];
  out.got = await h.attempt(async () => (await client.getWorkflow(first)).toJson());
  out.missing = await h.attempt(() => client.getWorkflow(ULID_NOBODY_HAS));

  // disable, try to run, enable
  out.disable = await h.attempt(() => client.setWorkflowEnabled(first, false));
  out.statusDisabled = await h.attempt(async () => (await client.getWorkflow(first)).status);
  out.triggerDisabled = await h.attempt(() => client.triggerWorkflow({
    id: first, triggerData: { type: h.TriggerType.Manual, data: { n: 1 } }, isBlocking: true }));
  out.disableAgain = await h.attempt(() => client.setWorkflowEnabled(first, false));
  out.enable = await h.attempt(() => client.setWorkflowEnabled(first, true));
  out.statusEnabled = await h.attempt(async () => (await client.getWorkflow(first)).status);
  out.enableUnknown = await h.attempt(() => client.setWorkflowEnabled(ULID_NOBODY_HAS, true));

  // delete
  const last = created[created.length - 1];
  out.deleted = await h.attempt(() => client.deleteWorkflow(last));
  out.getDeleted = await h.attempt(() => client.getWorkflow(last));
  out.deleteAgain = await h.attempt(() => client.deleteWorkflow(last));
  out.countAfterDelete = await h.attempt(() => client.getWorkflowCount([wallet]));
  out.countAll = await h.attempt(() => client.getWorkflowCount([]));

  // another user sees none of it
  const stranger = await h.signIn(p, h.Wallet.createRandom());
  const theirs = created[1];
  out.strangerGet = await h.attempt(() => stranger.getWorkflow(theirs));
  out.strangerDelete = await h.attempt(() => stranger.deleteWorkflow(theirs));
  out.strangerDisable = await h.attempt(() => stranger.setWorkflowEnabled(theirs, false));
  out.strangerTrigger = await h.attempt(() => stranger.triggerWorkflow({
    id: theirs, triggerData: { type: h.TriggerType.Manual, data: { n: 1 } }, isBlocking: true }));
  out.strangerExecutions = await h.attempt(() => stranger.getExecutions([theirs]));
  out.strangerList = await h.attempt(() => stranger.getWorkflows([wallet]));
  out.strangerCount = await h.attempt(() => stranger.getWorkflowCount([]));
  out.stillThere = await h.attempt(async () => (await client.getWorkflow(theirs)).status);

  // refused at creation
  const refuse = (props) => h.attempt(() => client.submitWorkflow(client.createWorkflow(props)));
  const node = [h.restNode("rest01", "fetch", `${p.restUrl}/never`)];
  out.foreignRunner = await refuse(h.manualWorkflow(h.Wallet.createRandom().address, "foreign", node));
  out.expiresSoon = await refuse({ ...h.manualWorkflow(wallet, "soon", node), expiredAt: Date.now() + 10 * 60e3 });
  out.badNodeName = await refuse(h.manualWorkflow(wallet, "badname",
    [h.restNode("rest01", "not-an-identifier", `${p.restUrl}/never`)]));
  out.noEdges = await refuse({ ...h.manualWorkflow(wallet, "noedges", node), edges: [] });
  return out;
}

async function executions(p, h) {
  const client = await h.signIn(p, new h.Wallet(p.key));
  const out = {};
  const wallet = (await client.getWallet({ salt: "0" })).address;
  const secret = p.secretName;

  out.createSecret = await h.attempt(() => client.createSecret(secret, "first value"));
  out.updateSecret = await h.attempt(() => client.updateSecret(secret, p.secretValue));
  out.createTwice = await h.attempt(() => client.createSecret(secret, "again"));
  out.reserved = await h.attempt(() => client.createSecret("ap_reserved", "x"));
  out.updateUnknown = await h.attempt(() => client.updateSecret("never_created", "x"));
  out.secrets = await h.attempt(() => client.getSecrets({ includeTimestamps: true, includeCreatedBy: true }));

  const headers = { "X-Api-Key": `{{apContext.configVars.${secret}}}` };
  const rest = h.restNode("rest01", "fetch", `${p.restUrl}/exec?n={{trigger.data.n}}`, headers);
  const id = await client.submitWorkflow(client.createWorkflow(h.manualWorkflow(wallet, "exec-rest", [rest])));
  out.workflowId = id;
  out.workflowSecret = await h.attempt(() => client.createSecret("wf_secret", "scoped", { workflowId: id }));
  out.workflowSecrets = await h.attempt(() => client.getSecrets({ workflowId: id }));
  out.foreignWorkflowSecret = await h.attempt(() => client.createSecret("wf_secret", "x",
                                                                        { workflowId: "01ARZ3NDEKTSV4RRFFQ69G5FAV" }));
  const trigger = (n, isBlocking) => h.attempt(() => client.triggerWorkflow({
    id, triggerData: { type: h.TriggerType.Manual, data: { n } }, isBlocking }));

  out.blocking = await trigger(7, true);
  out.nonBlocking = await trigger(8, false);
  const pending = out.nonBlocking.value;
  out.settled = pending ? await h.settle(client, id, pending.executionId) : null;
  out.execution = pending ? await h.attempt(() => client.getExecution(id, pending.executionId)) : null;
  out.list = await h.attempt(() => client.getExecutions([id], { limit: 10 }));
  out.listPage1 = await h.attempt(() => client.getExecutions([id], { limit: 1 }));
  out.listPage2 = await h.attempt(() => client.getExecutions([id], { limit: 1,
                                                                     after: out.listPage1.value.pageInfo.endCursor }));
  out.count = await h.attempt(() => client.getExecutionCount([id]));
  out.stats = await h.attempt(() => client.getExecutionStats({ workflowIds: [id], days: 7 }));
  out.missingExecution = await h.attempt(() => client.getExecution(id, "01ARZ3NDEKTSV4RRFFQ69G5FAV"));
  out.missingStatus = await h.attempt(() => client.getExecutionStatus(id, "01ARZ3NDEKTSV4RRFFQ69G5FAV"));
  out.workflowAfter = await h.attempt(async () => {
    const w = await client.getWorkflow(id);
    return { executionCount: w.executionCount, lastRanAt: w.lastRanAt, status: w.status };
  });

  // a run limit of one
  const onceId = await client.submitWorkflow(client.createWorkflow(h.manualWorkflow(wallet, "exec-once",
    [h.restNode("rest01", "fetch", `${p.restUrl}/once`)], { maxExecution: 1 })));
  const once = () => h.attempt(() => client.triggerWorkflow({
    id: onceId, triggerData: { type: h.TriggerType.Manual, data: { n: 1 } }, isBlocking: true }));
  out.onceFirst = await once();
  out.onceSecond = await once();
  out.onceStatus = await h.attempt(async () => (await client.getWorkflow(onceId)).status);

  // a step that fails (HTTP 500)
  const failId = await client.submitWorkflow(client.createWorkflow(h.manualWorkflow(wallet, "exec-fail",
    [h.restNode("rest01", "fetch", `${p.restUrl}/status/500`)])));
  out.failing = await h.attempt(() => client.triggerWorkflow({
    id: failId, triggerData: { type: h.TriggerType.Manual, data: { n: 1 } }, isBlocking: true }));
  out.statsBoth = await h.attempt(() => client.getExecutionStats({ workflowIds: [id, failId] }));
  out.countBoth = await h.attempt(() => client.getExecutionCount([id, failId]));

  // the secret in JavaScript (the CUSTOM_CODE sandbox)
  const code = h.codeNode("code01", "compute",
    `return { secret: apContext.configVars.${secret}, doubled: trigger.data.n * 2 };`);
  const codeId = await client.submitWorkflow(client.createWorkflow(h.manualWorkflow(wallet, "exec-code", [code])));
  out.code = await h.attempt(() => client.triggerWorkflow({
    id: codeId, triggerData: { type: h.TriggerType.Manual, data: { n: 21 } }, isBlocking: true }));
  out.codeExecution = out.code.value ? await h.attempt(() => client.getExecution(codeId, out.code.value.executionId))
                                     : null;

  // delete the secret: the next run's header is empty
  out.deleteSecret = await h.attempt(() => client.deleteSecret(secret));
  out.deleteAgain = await h.attempt(() => client.deleteSecret(secret));
  out.secretsAfter = await h.attempt(() => client.getSecrets());
  out.afterDelete = await trigger(9, true);
  return out;
}

async function triggers(p, h) {
  // every trigger kind: run now (runTrigger), stored and read back (getWorkflow), run by hand (triggerWorkflow)
  const client = await h.signIn(p, new h.Wallet(p.key));
  const out = {};
  const wallet = (await client.getWallet({ salt: "0" })).address;
  const { TriggerType } = h;
  const kinds = {
    block: { type: TriggerType.Block, data: { interval: 5 } },
    cron: { type: TriggerType.Cron, data: { schedules: ["*/5 * * * *"] } },
    fixedTime: { type: TriggerType.FixedTime, data: { epochsList: [Date.now() + 3600e3] } },
    event: { type: TriggerType.Event, data: { queries: [{ addresses: [p.token],
                                                          topics: [p.transferTopic, null, p.holderTopic] }] } },
  };
  out.run = {};
  out.stored = {};
  out.ids = {};
  for (const [name, kind] of Object.entries(kinds)) {
    const trigger = { id: `trigger${name}`, name: `on_${name}`, ...kind };
    out.run[name] = await h.attempt(() => client.runTrigger({ trigger }));
    const props = h.manualWorkflow(wallet, `trigger-${name}`, [h.restNode("rest01", "fetch", `${p.restUrl}/never`)],
      { edges: [{ id: "e1", source: trigger.id, target: "rest01" }] });
    props.trigger = h.TriggerFactory.create(trigger);
    const id = await h.attempt(() => client.submitWorkflow(client.createWorkflow(props)));
    out.ids[name] = id;
    out.stored[name] = id.value ? await h.attempt(async () => (await client.getWorkflow(id.value)).trigger.toJson())
                                : null;
  }
  out.manualBlock = out.ids.block.value ? await h.attempt(async () => {
    const fired = await client.triggerWorkflow({ id: out.ids.block.value, isBlocking: true,
      triggerData: { type: TriggerType.Block, blockNumber: 123, blockHash: "0xabc" } });
    const execution = await client.getExecution(out.ids.block.value, fired.executionId);
    return { status: fired.status, trigger: execution.steps[0] };
  }) : null;
  return out;
}

async function logic(p, h) {
  // BRANCH and FILTER (JavaScript expressions in the sandbox), each workflow run by a blocking trigger
  const client = await h.signIn(p, new h.Wallet(p.key));
  const out = {};
  const wallet = (await client.getWallet({ salt: "0" })).address;
  const branch = { id: "branch01", name: "decide", type: h.NodeType.Branch, data: { conditions: [
    { id: "high", type: "if", expression: "{{trigger.data.n}} > 5" },
    { id: "low", type: "else", expression: "" }] } };
  const high = h.restNode("high01", "high", `${p.restUrl}/branch/high?n={{trigger.data.n}}`);
  const low = h.restNode("low01", "low", `${p.restUrl}/branch/low?n={{trigger.data.n}}`);
  const props = h.manualWorkflow(wallet, "logic-branch", [branch, high, low], { edges: [
    { id: "e1", source: "trigger01", target: "branch01" },
    { id: "e2", source: "branch01.high", target: "high01" },
    { id: "e3", source: "branch01.low", target: "low01" }] });
  const branchId = await client.submitWorkflow(client.createWorkflow(props));
  const fire = (id, data) => h.attempt(async () => {
    const fired = await client.triggerWorkflow({ id, isBlocking: true,
                                                triggerData: { type: h.TriggerType.Manual, data } });
    const execution = await client.getExecution(id, fired.executionId);
    return { status: fired.status, error: fired.error ?? null,
             steps: execution.steps.map((st) => ({ name: st.name, type: st.type, success: st.success,
                                                    error: st.error, output: st.output })) };
  });
  out.branchHigh = await fire(branchId, { n: 9 });
  out.branchLow = await fire(branchId, { n: 2 });

  const filter = { id: "filter01", name: "big", type: h.NodeType.Filter,
                   data: { expression: "value.amount > 10", inputVariable: "{{trigger.data.items}}" } };
  const filterId = await client.submitWorkflow(client.createWorkflow(h.manualWorkflow(wallet, "logic-filter",
                                                                                       [filter])));
  out.filter = await fire(filterId, { items: [{ amount: 5 }, { amount: 20 }, { amount: 50 }] });
  return out;
}

export const scenarios = { workflows, executions, triggers, logic };
