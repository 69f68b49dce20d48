// viem, used as a new user would: a wallet client over http, nothing filled in by hand.
// node viem_flow.mjs STEP URL KEY [ARG]  ->  one JSON object on stdout.
//   send  ARG = "default" | "legacy": send 1 wei, wait for the receipt, read block and transaction
//   balances ARG = address: its balance at latest, safe and finalized
//   bad   the refused transactions, each as viem reports it
//   watch ARG = ws url: watch new blocks over WebSocket (eth_subscribe newHeads) while sending 2
//   confirm ARG = seconds: send 1 wei and wait for its receipt with 2 confirmations, nothing else
//         sent; viem's own timeout of ARG seconds makes a node that never moves fail, not hang
import { createPublicClient, createWalletClient, defineChain, http, webSocket } from "viem";
import { privateKeyToAccount, generatePrivateKey } from "viem/accounts";

const [step, url, key, arg] = process.argv.slice(2);
const probe = createPublicClient({ transport: http(url) });
const chain = defineChain({ id: await probe.getChainId(), name: "zkpipe", nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
                            rpcUrls: { default: { http: [url] } } });
const client = createPublicClient({ chain, transport: http(url) });
const account = privateKeyToAccount(key);
const wallet = createWalletClient({ account, chain, transport: http(url) });
const to = privateKeyToAccount(generatePrivateKey()).address;

function report(e) {
  let rpc = null;
  e.walk?.((c) => { if (typeof c?.code === "number" && rpc === null) rpc = c.code; return false; });
  return { name: e.name, shortMessage: e.shortMessage ?? String(e.message), details: e.details ?? null, code: rpc };
}

async function send(kind) {
  const hash = await wallet.sendTransaction(kind === "legacy" ? { to, value: 1n, type: "legacy" } : { to, value: 1n });
  const receipt = await client.waitForTransactionReceipt({ hash, pollingInterval: 50 });
  const block = await client.getBlock({ blockHash: receipt.blockHash });
  const tx = await client.getTransaction({ hash });
  return { hash, to, type: tx.type, status: receipt.status, blockNumber: receipt.blockNumber, blockHash: block.hash,
           blockTxs: block.transactions, txFrom: tx.from, balances: await balances(to) };
}

async function balances(address) {
  const out = {};
  for (const blockTag of ["latest", "safe", "finalized"]) out[blockTag] = await client.getBalance({ address, blockTag });
  return out;
}

async function confirm(seconds) {
  const hash = await wallet.sendTransaction({ to, value: 1n });
  const started = Date.now();
  const receipt = await client.waitForTransactionReceipt({ hash, confirmations: 2, pollingInterval: 50,
                                                           timeout: seconds * 1000 });
  return { status: receipt.status, blockNumber: receipt.blockNumber, waitedMs: Date.now() - started,
           head: await client.getBlockNumber() };
}

async function refusal(fn) {
  try { await fn(); return { accepted: true }; } catch (e) { return report(e); }
}

async function bad() {
  const nonce = await client.getTransactionCount({ address: account.address, blockTag: "pending" });
  const fields = { type: "eip1559", nonce, gas: 21000n, maxFeePerGas: 3n, maxPriorityFeePerGas: 1n, to, value: 1n };
  const signed = await account.signTransaction({ ...fields, chainId: chain.id });
  const corrupted = signed.slice(0, -4) + (signed.slice(-4, -2) === "00" ? "01" : "00") + signed.slice(-2);
  return {
    wrongChainId: await refusal(async () => client.sendRawTransaction({
      serializedTransaction: await account.signTransaction({ ...fields, chainId: chain.id + 1 }) })),
    reusedNonce: await refusal(() => wallet.sendTransaction({ to, value: 1n, nonce: 0 })),
    insufficientFunds: await refusal(async () => wallet.sendTransaction({
      to, value: (await client.getBalance({ address: account.address })) + 1n })),
    corruptedSignature: await refusal(() => client.sendRawTransaction({ serializedTransaction: corrupted })),
    gasTooLow: await refusal(() => wallet.sendTransaction({ to, value: 1n, gas: 20000n })),
  };
}

async function watch(wsUrl) {
  const ws = createPublicClient({ chain, transport: webSocket(wsUrl) });
  const seen = [];
  const done = new Promise((resolve, reject) => {
    const stop = ws.watchBlocks({ onBlock: (b) => { seen.push(b); if (seen.length === 2) { stop(); resolve(); } },
                                  onError: reject });
  });
  await new Promise((r) => setTimeout(r, 300));   // subscribed before the blocks come
  for (let i = 0; i < 2; i++) await client.waitForTransactionReceipt({ hash: await wallet.sendTransaction({ to, value: 1n }), pollingInterval: 50 });
  await done;
  await ws.transport.getRpcClient().then((c) => c.close());
  return { numbers: seen.map((b) => b.number), parentLinked: seen[1].parentHash === seen[0].hash };
}

const steps = { send: () => send(arg), balances: () => balances(arg), bad, watch: () => watch(arg),
                confirm: () => confirm(Number(arg)) };
try {
  console.log(JSON.stringify(await steps[step](), (k, v) => (typeof v === "bigint" ? v.toString() : v)));
} catch (e) {
  console.log(JSON.stringify({ failed: report(e) }));
  process.exitCode = 1;
}
// The report is out: leave now, not when viem's sockets (a closed WebSocket transport may still
// hold a reconnect or keep-alive timer) let the event loop end.
process.exit();
