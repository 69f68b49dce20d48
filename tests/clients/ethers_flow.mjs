// ethers v6, used as a new user would: nothing filled in by hand unless the step says so.
// node ethers_flow.mjs STEP URL KEY [ARG]  ->  one JSON object on stdout.
//   send     ARG = "default" | "legacy" | "eip1559": send 1 wei to a fresh address, wait for the
//            receipt, read the block (by hash, with and without transactions) and the transaction
//   balances ARG = address: its balance at latest, safe and finalized
//   many     ARG = count: that many transfers at once with explicit consecutive nonces
//   confirm  ARG = seconds: send 1 wei and wait for two confirmations (tx.wait(2)) with nothing
//            else sent, so the second block must come from the node itself; ethers' own timeout
//            of ARG seconds makes a node that never moves fail rather than hang
//   bad      the refused transactions, each as ethers reports it
import { JsonRpcProvider, Wallet, Transaction, Signature, getBytes, hexlify } from "ethers";

const [step, url, key, arg] = process.argv.slice(2);
const provider = new JsonRpcProvider(url);
const wallet = new Wallet(key, provider);
const to = Wallet.createRandom().address;

function report(e) {
  const rpc = e.info?.error ?? e.error ?? null;
  return { code: e.code ?? null, shortMessage: e.shortMessage ?? String(e.message),
           rpcCode: rpc?.code ?? null, rpcMessage: rpc?.message ?? null };
}

async function send(kind) {
  const req = { to, value: 1n };
  if (kind === "legacy") req.type = 0;
  if (kind === "eip1559") req.type = 2;
  const tx = await wallet.sendTransaction(req);
  const receipt = await tx.wait();
  const block = await provider.getBlock(receipt.blockHash);
  const full = await provider.getBlock(receipt.blockNumber, true);
  const fetched = await provider.getTransaction(tx.hash);
  const raw = {
    block: await provider.send("eth_getBlockByHash", [receipt.blockHash, false]),
    fullBlock: await provider.send("eth_getBlockByNumber", ["0x" + receipt.blockNumber.toString(16), true]),
    tx: await provider.send("eth_getTransactionByHash", [tx.hash]),
    receipt: await provider.send("eth_getTransactionReceipt", [tx.hash]),
  };
  return { hash: tx.hash, to, type: fetched.type, status: receipt.status, blockNumber: receipt.blockNumber,
           block: block.toJSON(), fullBlockTxs: full.prefetchedTransactions.map((t) => t.hash),
           tx: fetched.toJSON(), receipt: receipt.toJSON(), raw };
}

async function balances(address) {
  const out = {};
  for (const tag of ["latest", "safe", "finalized"]) out[tag] = (await provider.getBalance(address, tag)).toString();
  return out;
}

async function many(count) {
  const base = await provider.getTransactionCount(wallet.address, "pending");
  const outcomes = await Promise.allSettled(Array.from({ length: count }, (_, i) =>
    wallet.sendTransaction({ to, value: 1n, nonce: base + i })));
  const refused = outcomes.filter((o) => o.status === "rejected").map((o) => report(o.reason));
  const hashes = outcomes.filter((o) => o.status === "fulfilled").map((o) => o.value.hash);
  const last = hashes.length ? await provider.waitForTransaction(hashes[hashes.length - 1]) : null;
  return { accepted: hashes.length, refused, lastStatus: last?.status ?? null,
           nonceAfter: await provider.getTransactionCount(wallet.address, "latest"), base };
}

async function confirm(seconds) {
  // ethers polls for new blocks every 4 s by default; a shorter poll only makes this quicker: the
  // wait still needs a block after the transaction's, which only the node itself makes here.
  provider.pollingInterval = 250;
  const tx = await wallet.sendTransaction({ to, value: 1n });
  const started = Date.now();
  const receipt = await tx.wait(2, seconds * 1000);
  const head = await provider.getBlock("latest");
  return { status: receipt.status, blockNumber: receipt.blockNumber, confirmations: await receipt.confirmations(),
           waitedMs: Date.now() - started, head: head.number, headTxs: head.transactions.length };
}

async function refusal(fn) {
  try { await fn(); return { accepted: true }; } catch (e) { return report(e); }
}

async function bad() {
  const { chainId } = await provider.getNetwork();
  const nonce = await provider.getTransactionCount(wallet.address, "pending");
  const offline = new Wallet(key);
  const fields = { type: 2, nonce, gasLimit: 21000, maxFeePerGas: 1n, maxPriorityFeePerGas: 1n, to, value: 1n };
  const good = Transaction.from(await offline.signTransaction({ ...fields, chainId }));
  const sig = good.signature;
  const s = getBytes(sig.s); s[31] ^= 1;
  const corrupted = good.clone();
  corrupted.signature = Signature.from({ r: sig.r, s: hexlify(s), v: sig.v });
  return {
    wrongChainId: await refusal(async () => provider.broadcastTransaction(
      await offline.signTransaction({ ...fields, chainId: chainId + 1n }))),
    reusedNonce: await refusal(() => wallet.sendTransaction({ to, value: 1n, nonce: 0 })),
    insufficientFunds: await refusal(async () => wallet.sendTransaction({ to, value: (await provider.getBalance(wallet.address)) + 1n })),
    corruptedSignature: await refusal(() => provider.broadcastTransaction(corrupted.serialized)),
    gasTooLow: await refusal(() => wallet.sendTransaction({ to, value: 1n, gasLimit: 20000 })),
  };
}

const steps = { send: () => send(arg), balances: () => balances(arg), many: () => many(Number(arg)), bad,
                confirm: () => confirm(Number(arg)) };
try {
  console.log(JSON.stringify(await steps[step](), (k, v) => (typeof v === "bigint" ? v.toString() : v)));
} catch (e) {
  console.log(JSON.stringify({ failed: report(e) }));
  process.exitCode = 1;
}
provider.destroy();
