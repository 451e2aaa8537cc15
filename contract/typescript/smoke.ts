// A trade through Pupero's HTTP API with openapi-fetch and the types openapi-typescript
// generates from openapi/pupero.yaml (imported as the module "pupero-api", which
// scripts/contract.sh maps to the generated file).
//
// Against a development server with no Monero wallet: two users register and log in, the
// faucet (`pupero admin credit`) gives the seller 5 XMR, the seller posts a fixed-price sell
// offer, the buyer opens a trade on it (with an Idempotency-Key, replayed once), marks it paid,
// the seller releases it; the balances are checked to the piconero, both parties leave feedback
// and chat; more makers (made at the machine with `pupero admin create-user`, since a new
// account may have only 3 open offers) post 27 offers in all, the market is paged to its end,
// and the seller's events are read to the end.
//
//   node smoke.js --base-url http://127.0.0.1:PORT --pupero-bin /path/to/pupero
//
// The faucet runs `pupero admin ...` with this process's environment, so PUPERO_DATABASE_URL
// must name the server's database. Exits non-zero on the first failure.

import { execFileSync } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";

import createClient from "openapi-fetch";
import type { components, paths } from "pupero-api";

type Schemas = components["schemas"];
type Api = ReturnType<typeof createClient<paths>>;

const CURRENCY = "USD"; // the Python smoke uses another one, so their offers never mix
const PRICE = "160.00";
const FAUCET_XMR = "5";
const TRADE_XMR = "0.75";
const MAKERS = 8;
const PAGE_SIZE = 10;

class Failure extends Error {}

function check(condition: boolean, what: string): asserts condition {
  if (!condition) throw new Failure(what);
}

/** A decimal string as an integer in units of 10^-places, exactly (never through a float). */
function scaled(text: string, places: number): bigint {
  const m = /^(0|[1-9][0-9]*)(?:\.([0-9]+))?$/.exec(text);
  check(m !== null, `not a decimal: ${JSON.stringify(text)}`);
  const whole = m[1] ?? "0";
  const fraction = m[2] ?? "";
  check(fraction.length <= places, `more than ${places} decimals: ${text}`);
  return BigInt(whole) * 10n ** BigInt(places) + BigInt(fraction.padEnd(places, "0") || "0");
}

/** A decimal XMR amount as integer piconero (1 XMR = 10^12 piconero). */
function pico(text: string): bigint {
  return scaled(text, 12);
}

function step(what: string): void {
  console.log(`  - ${what}`);
}

/** The body of a response with the expected status; anything else fails with the server's
 * answer. */
function expect<T>(
  what: string,
  status: number,
  result: { data?: T; error?: unknown; response: Response },
): T {
  const got = result.response.status;
  check(got === status, `${what}: expected HTTP ${status}, got ${got}: ${JSON.stringify(result.error ?? result.data)}`);
  check(result.data !== undefined, `${what}: no body`);
  return result.data;
}

/** `pupero admin ...` on the server's database: the development faucet, or a user made at
 * the machine. */
function operator(puperoBin: string, args: string[], input = ""): void {
  try {
    execFileSync(puperoBin, ["admin", ...args], { input, stdio: ["pipe", "ignore", "pipe"], timeout: 60_000 });
  } catch (e) {
    const stderr = (e as { stderr?: Buffer }).stderr?.toString().trim() ?? String(e);
    throw new Failure(`pupero admin ${args.join(" ")}: ${stderr}`);
  }
}

async function login(baseUrl: string, username: string, password: string): Promise<Api> {
  const anon = createClient<paths>({ baseUrl });
  const tokens = expect(
    "login",
    200,
    await anon.POST("/api/v1/auth/login", { body: { login: username, password } }),
  );
  check(tokens.token_type.toLowerCase() === "bearer", `token type ${tokens.token_type}`);
  check(tokens.expires_in > 0 && tokens.access_token.length > 20, "a usable access token");
  return createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${tokens.access_token}` } });
}

async function registerAndLogin(baseUrl: string, username: string, password: string): Promise<[string, Api]> {
  const anon = createClient<paths>({ baseUrl });
  const registered = expect(
    "register",
    201,
    await anon.POST("/api/v1/auth/register", { body: { username, password } }),
  );
  check(registered.username === username, `registered as ${registered.username}`);
  return [registered.user_id, await login(baseUrl, username, password)];
}

async function available(client: Api): Promise<bigint> {
  const b = expect("balance", 200, await client.GET("/api/v1/balance"));
  check(pico(b.held) === 0n, `nothing held: ${b.held}`);
  return pico(b.available);
}

async function smoke(baseUrl: string, puperoBin: string): Promise<void> {
  const run = randomBytes(3).toString("hex");
  const aliceName = `alice_ts_${run}`;
  const bobName = `bob_ts_${run}`;
  const password = `correct horse battery ${randomBytes(4).toString("hex")}`;
  const anon = createClient<paths>({ baseUrl });

  step("register and log in alice (seller) and bob (buyer)");
  const [aliceId, alice] = await registerAndLogin(baseUrl, aliceName, password);
  const [bobId, bob] = await registerAndLogin(baseUrl, bobName, password);
  check((await available(alice)) === 0n && (await available(bob)) === 0n, "new accounts start empty");

  step(`faucet: ${FAUCET_XMR} XMR to alice`);
  operator(puperoBin, ["credit", "--username", aliceName, "--amount", FAUCET_XMR]);
  const credit = pico(FAUCET_XMR);
  check((await available(alice)) === credit, "alice holds the faucet's credit");

  const methods = expect("payment methods", 200, await anon.GET("/api/v1/payment-methods"));
  const method = methods[0]?.code;
  check(method !== undefined, "the payment-method catalogue is not empty");
  step(`alice posts a sell offer: ${CURRENCY} at ${PRICE}, ${method}`);
  const offerBody: Schemas["OfferRequest"] = {
    side: "sell",
    currency: CURRENCY,
    payment_method: method,
    payment_details: "account number on request",
    price: PRICE,
    min_amount: "0.01",
    max_amount: "2",
    payment_window_minutes: 60,
    terms: "contract smoke",
    visibility: "public",
  };
  const offer = expect("create offer", 201, await alice.POST("/api/v1/offers", { body: offerBody }));
  check(offer.side === "sell" && offer.status === "active", `offer ${offer.side}/${offer.status}`);
  check(offer.owner_id === aliceId, "alice owns the offer");
  check(offer.price !== undefined && scaled(offer.price, 2) === scaled(PRICE, 2), `offer price ${offer.price}`);
  check(offer.margin_percent === undefined, "a fixed-price offer has no margin");
  check(pico(offer.min_amount) === pico("0.01") && pico(offer.max_amount) === pico("2"), "offer limits");

  step("bob opens a trade with an Idempotency-Key, then replays it");
  const key = randomUUID();
  const openBody: Schemas["OpenTradeRequest"] = { offer_id: offer.id, amount: TRADE_XMR, price: PRICE };
  const openParams = { params: { header: { "Idempotency-Key": key } }, body: openBody };
  const trade = expect("open trade", 201, await bob.POST("/api/v1/trades", openParams));
  const replay = expect("replayed open", 200, await bob.POST("/api/v1/trades", openParams));
  check(replay.id === trade.id, "the replayed key returns the same trade");
  check(trade.state === "escrowed", `state ${trade.state}`);
  check(trade.your_side === "buyer" && trade.maker_side === "seller", "sides");
  check(trade.seller.id === aliceId && trade.buyer.id === bobId, "parties");
  check(trade.seller.username === aliceName && trade.buyer.username === bobName, "party names");
  check(JSON.stringify([...trade.actions].sort()) === JSON.stringify(["cancel", "mark_paid"]), `bob's actions ${trade.actions}`);
  const amount = pico(trade.amount);
  const sellerFee = pico(trade.seller_fee);
  const buyerFee = pico(trade.buyer_fee);
  check(amount === pico(TRADE_XMR), `amount ${trade.amount}`);
  check(pico(trade.escrowed) === amount + sellerFee, "escrowed = amount + seller fee");
  check(pico(trade.buyer_receives) === amount - buyerFee, "buyer receives amount - buyer fee");
  check(scaled(trade.fiat_amount, 4) === scaled(TRADE_XMR, 2) * scaled(PRICE, 2), `fiat amount ${trade.fiat_amount}`);
  check(trade.currency === CURRENCY && trade.payment_method === method, "currency and method");
  check(
    trade.paid_at_ms === undefined && trade.closed_at_ms === undefined && trade.disputed_by === undefined && trade.resolution === undefined,
    "no payment, closing, dispute or resolution while escrowed",
  );
  const escrowing = expect("balance", 200, await alice.GET("/api/v1/balance"));
  check(pico(escrowing.available) === credit - amount - sellerFee, `alice's available while escrowed: ${escrowing.available}`);

  step("bob marks it paid, alice releases it");
  const path = { id: trade.id };
  const paid = expect(
    "mark paid",
    200,
    await bob.POST("/api/v1/trades/{id}/paid", { params: { path, header: { "Idempotency-Key": randomUUID() } } }),
  );
  check(paid.state === "paid" && paid.paid_at_ms !== undefined, `state ${paid.state}`);
  const seen = expect("get trade", 200, await alice.GET("/api/v1/trades/{id}", { params: { path } }));
  check(seen.your_side === "seller" && seen.actions.includes("release"), `alice's actions ${seen.actions}`);
  const released = expect(
    "release",
    200,
    await alice.POST("/api/v1/trades/{id}/release", {
      params: { path, header: { "Idempotency-Key": randomUUID() } },
      body: {},
    }),
  );
  check(released.state === "released" && released.closed_at_ms !== undefined, `state ${released.state}`);
  check(pico(released.seller_fee) === sellerFee && pico(released.buyer_fee) === buyerFee, "fees unchanged");

  step(`balances to the piconero (amount ${trade.amount}, seller fee ${trade.seller_fee}, buyer fee ${trade.buyer_fee})`);
  check((await available(alice)) === credit - amount - sellerFee, "alice: credit - amount - seller fee");
  check((await available(bob)) === amount - buyerFee, "bob: amount - buyer fee");

  step("feedback both ways");
  const fb = expect(
    "bob's feedback",
    201,
    await bob.POST("/api/v1/trades/{id}/feedback", { params: { path }, body: { rating: "positive", comment: "quick release" } }),
  );
  check(fb.subject === aliceName && fb.rating === "positive", `bob's feedback ${fb.subject}/${fb.rating}`);
  const fa = expect(
    "alice's feedback",
    201,
    await alice.POST("/api/v1/trades/{id}/feedback", { params: { path }, body: { rating: "neutral" } }),
  );
  check(fa.subject === bobName && fa.rating === "neutral" && fa.comment === "", "alice's feedback");
  const aboutAlice = expect(
    "public feedback",
    200,
    await anon.GET("/api/v1/users/{username}/feedback", { params: { path: { username: aliceName } } }),
  );
  check(JSON.stringify(aboutAlice.items.map((f) => f.rating)) === '["positive"]', "alice's public feedback");
  check(aboutAlice.next_cursor === undefined, "one page of feedback");

  step("chat both ways");
  expect("bob's message", 201, await bob.POST("/api/v1/trades/{id}/messages", { params: { path }, body: { body: "sent the money" } }));
  expect("alice's message", 201, await alice.POST("/api/v1/trades/{id}/messages", { params: { path }, body: { body: "got it, thanks" } }));
  const chat = expect("chat", 200, await alice.GET("/api/v1/trades/{id}/messages", { params: { path } }));
  check(
    JSON.stringify(chat.items.map((m) => [m.sender, m.sender_role, m.body])) ===
      JSON.stringify([
        [bobName, "buyer", "sent the money"],
        [aliceName, "seller", "got it, thanks"],
      ]),
    `chat ${JSON.stringify(chat.items)}`,
  );
  check(chat.next_cursor === undefined, "one page of chat");

  // A new account may have 3 open offers: alice posts 2 more, and makers made at the machine
  // (the faucet gives each 1 XMR, so that their sell offers are listed) post 3 each.
  step(`${MAKERS} more makers; ${3 + 3 * MAKERS} offers; the market is paged ${PAGE_SIZE} at a time`);
  const posted = new Set<string>([offer.id]);
  const makers: Api[] = [alice];
  for (let i = 0; i < MAKERS; i++) {
    const name = `maker${i}_ts_${run}`;
    operator(puperoBin, ["create-user", "--username", name], `${password}\n`);
    operator(puperoBin, ["credit", "--username", name, "--amount", "1"]);
    makers.push(await login(baseUrl, name, password));
  }
  for (const [m, maker] of makers.entries()) {
    for (let i = 0; i < (maker === alice ? 2 : 3); i++) {
      const more: Schemas["OfferRequest"] = {
        ...offerBody,
        price: `${130 + 3 * m + i}.50`,
        max_amount: "0.5",
        terms: `offer ${m}.${i}`,
      };
      posted.add(expect("create offer", 201, await maker.POST("/api/v1/offers", { body: more })).id);
    }
  }
  check(posted.size === 3 + 3 * MAKERS, "every offer is new");

  const seenIds: string[] = [];
  const prices: bigint[] = [];
  let pages = 0;
  const marketPage = async (cursor?: string): Promise<Schemas["OfferPageView"]> => {
    const query = { side: "sell", currency: CURRENCY, limit: PAGE_SIZE, cursor } as const;
    const page = expect("market page", 200, await anon.GET("/api/v1/offers", { params: { query } }));
    pages += 1;
    check(page.items.length <= PAGE_SIZE && pages <= 10, `page ${pages} of ${page.items.length}`);
    for (const o of page.items) {
      check(o.side === "sell" && o.currency === CURRENCY, "filters hold");
      check(o.effective_price !== undefined, "a listed offer has its effective price");
      seenIds.push(o.id);
      prices.push(scaled(o.effective_price, 12));
    }
    check(page.next_cursor === undefined || page.items.length === PAGE_SIZE, "only the last page is short");
    return page;
  };
  let cursor = (await marketPage()).next_cursor;
  while (cursor !== undefined) {
    cursor = (await marketPage(cursor)).next_cursor;
  }
  check(new Set(seenIds).size === seenIds.length, "no offer twice");
  check(seenIds.length === posted.size && seenIds.every((id) => posted.has(id)), `the market shows the ${posted.size} offers, got ${seenIds.length}`);
  check(pages === Math.ceil(posted.size / PAGE_SIZE), `${pages} pages`);
  check(prices.every((p, i) => i === 0 || (prices[i - 1] ?? p) <= p), "best (lowest) price first for sell offers, across pages");

  step("alice's events, 4 at a time, to the end");
  const seqs: number[] = [];
  const kinds = new Set<string>();
  let after = 0;
  for (let more = true, rounds = 0; more; rounds++) {
    check(rounds < 100, "the events end");
    const ev = expect("events", 200, await alice.GET("/api/v1/events", { params: { query: { after, limit: 4 } } }));
    for (const e of ev.items) {
      seqs.push(e.seq);
      kinds.add(e.kind);
      if (e.kind.startsWith("trade_")) check(e.trade_id === trade.id, "trade events name the trade");
    }
    const last = ev.items[ev.items.length - 1];
    if (last !== undefined) check(ev.next === last.seq, "next is the last seq");
    more = ev.has_more;
    after = ev.next;
  }
  check(seqs.every((s, i) => s === i + 1), `seqs 1..n without gaps: ${seqs}`);
  for (const kind of ["trade_opened", "trade_paid", "trade_released", "chat_message", "feedback_received"]) {
    check(kinds.has(kind), `alice heard of ${kind} (kinds: ${[...kinds].sort()})`);
  }
}

function argument(name: string): string {
  const i = process.argv.indexOf(name);
  const value = i >= 0 ? process.argv[i + 1] : undefined;
  if (value === undefined) {
    console.error("usage: node smoke.js --base-url URL --pupero-bin PATH");
    process.exit(2);
  }
  return value;
}

try {
  await smoke(argument("--base-url").replace(/\/+$/, ""), argument("--pupero-bin"));
  console.log("typescript smoke: ok");
} catch (e) {
  console.error(`typescript smoke FAILED: ${e instanceof Failure ? e.message : String((e as Error).stack ?? e)}`);
  process.exit(1);
}
