// Scenarios of the tools (runNodeWithInputs, runTrigger, simulateWorkflow, getTokenMetadata, estimateFees) and of
// writes from a smart wallet (ETH_TRANSFER, CONTRACT_WRITE, withdrawFunds). Each returns what it observed.

const ERC20_ABI = [
  { type: "function", name: "symbol", stateMutability: "view", inputs: [],
    outputs: [{ name: "", type: "string" }] },
  { type: "function", name: "balanceOf", stateMutability: "view", inputs: [{ name: "owner", type: "address" }],
    outputs: [{ name: "", type: "uint256" }] },
  { type: "function", name: "transfer", stateMutability: "nonpayable",
    inputs: [{ name: "to", type: "address" }, { name: "value", type: "uint256" }],
    outputs: [{ name: "", type: "bool" }] },
  { type: "event", name: "Transfer", anonymous: false,
    inputs: [{ name: "from", type: "address", indexed: true }, { name: "to", type: "address", indexed: true },
             { name: "value", type: "uint256", indexed: false }] },
];

function manualTrigger(data) {
  return { id: "trigger01", name: "trigger", type: "manualTrigger", data: { data } };
}

async function tools(p, h) {
  const client = await h.signIn(p, new h.Wallet(p.key));
  const out = {};
  const wallet = (await client.getWallet({ salt: "0" })).address;
  out.wallet = wallet;
  const { NodeType } = h;

  out.restNode = await h.attempt(() => client.runNodeWithInputs({
    node: h.restNode("rn01", "probe", `${p.restUrl}/run?x={{input.x}}`, { "X-Probe": "{{input.tag}}" }),
    inputVariables: { input: { x: 5, tag: "sdk" } } }));
  out.codeNode = await h.attempt(() => client.runNodeWithInputs({
    node: h.codeNode("cn01", "sum", "return { sum: input.a + input.b, words: ['x', 'y'].join('-') };"),
    inputVariables: { input: { a: 2, b: 3 } } }));
  out.readNode = await h.attempt(() => client.runNodeWithInputs({
    node: { id: "rd01", name: "read", type: NodeType.ContractRead, data: {
      contractAddress: p.token, contractAbi: ERC20_ABI,
      methodCalls: [{ methodName: "symbol", methodParams: [] },
                    { methodName: "balanceOf", methodParams: [p.holder] }] } },
    inputVariables: {} }));
  out.restNodeFailing = await h.attempt(() => client.runNodeWithInputs({
    node: h.restNode("rn02", "probe", `${p.restUrl}/status/404`), inputVariables: {} }));

  out.trigger = await h.attempt(() => client.runTrigger({ trigger: manualTrigger({ hello: "world", n: 3 }) }));

  const settings = { settings: { name: "simulation", runner: wallet, chain_id: p.chainId } };
  out.simulateRest = await h.attempt(() => client.simulateWorkflow({
    trigger: manualTrigger({ n: 4 }),
    nodes: [h.restNode("rest01", "fetch", `${p.restUrl}/simulate?n={{trigger.data.n}}`)],
    edges: [{ id: "e1", source: "trigger01", target: "rest01" }],
    inputVariables: settings }));
  out.simulateCode = await h.attempt(() => client.simulateWorkflow({
    trigger: manualTrigger({ n: 4 }),
    nodes: [h.codeNode("code01", "compute", "return trigger.data.n * 10;")],
    edges: [{ id: "e1", source: "trigger01", target: "code01" }],
    inputVariables: settings }));
  out.simulateNoNodes = await h.attempt(() => client.simulateWorkflow({
    trigger: manualTrigger({ n: 4 }), nodes: [], edges: [], inputVariables: settings }));

  out.token = await h.attempt(() => client.getTokenMetadata({ address: p.token }));
  out.notToken = await h.attempt(() => client.getTokenMetadata({ address: h.Wallet.createRandom().address }));
  out.badAddress = await h.attempt(() => client.getTokenMetadata({ address: "0x12" }));

  const now = Date.now();
  out.fees = await h.attempt(() => client.estimateFees({
    trigger: manualTrigger({ n: 1 }),
    nodes: [h.restNode("rest01", "fetch", `${p.restUrl}/never`),
            { id: "eth01", name: "pay", type: NodeType.ETHTransfer,
              data: { destination: p.holder, amount: "1000" } }],
    runner: wallet, inputVariables: settings, createdAt: now, expireAt: now + 7 * 86400e3 }));
  return out;
}

async function transfers(p, h) {
  // p.key's salt-0 wallet holds ETH and p.token (funded by the test); every recipient is fresh
  const client = await h.signIn(p, new h.Wallet(p.key));
  const out = {};
  const wallet = (await client.getWallet({ salt: "0" })).address;
  out.wallet = wallet;
  const run = async (name, node) => {
    const id = await client.submitWorkflow(client.createWorkflow(h.manualWorkflow(wallet, name, [node])));
    const triggered = await h.attempt(() => client.triggerWorkflow({
      id, triggerData: { type: h.TriggerType.Manual, data: { n: 1 } }, isBlocking: true }));
    const execution = triggered.value ? await h.attempt(() => client.getExecution(id, triggered.value.executionId))
                                      : null;
    return { triggered, execution };
  };

  out.ethTransfer = await run("pay-eth", { id: "eth01", name: "pay", type: h.NodeType.ETHTransfer,
                                          data: { destination: p.ethRecipient, amount: p.ethAmount } });
  out.contractWrite = await run("pay-token", { id: "cw01", name: "payToken", type: h.NodeType.ContractWrite, data: {
    contractAddress: p.token, contractAbi: ERC20_ABI,
    methodCalls: [{ methodName: "transfer", methodParams: [p.tokenRecipient, p.tokenAmount] }] } });

  out.withdrawEth = await h.attempt(() => client.withdrawFunds({
    recipientAddress: p.withdrawRecipient, amount: p.withdrawAmount, token: "ETH", smartWalletAddress: wallet }));
  out.withdrawToken = await h.attempt(() => client.withdrawFunds({
    recipientAddress: p.withdrawRecipient, amount: p.withdrawTokenAmount, token: p.token,
    smartWalletAddress: wallet }));
  out.withdrawForeign = await h.attempt(() => client.withdrawFunds({
    recipientAddress: p.withdrawRecipient, amount: "1", token: "ETH",
    smartWalletAddress: h.Wallet.createRandom().address }));
  out.withdrawTooMuch = await h.attempt(() => client.withdrawFunds({
    recipientAddress: p.withdrawRecipient, amount: "1000000000000000000000000", token: "ETH",
    smartWalletAddress: wallet }));
  out.withdrawTooMuchToken = await h.attempt(() => client.withdrawFunds({
    recipientAddress: p.withdrawRecipient, amount: "1000000000000000000000000", token: p.token,
    smartWalletAddress: wallet }));
  out.withdrawZero = await h.attempt(() => client.withdrawFunds({
    recipientAddress: p.withdrawRecipient, amount: "0", token: "ETH", smartWalletAddress: wallet }));
  return out;
}

export const scenarios = { tools, transfers };
