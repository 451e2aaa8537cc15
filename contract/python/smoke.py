"""A trade through Pupero's HTTP API with the Python client generated from openapi/pupero.yaml.

The client (package `pupero_client`, made by openapi-python-client) is used as generated.
Against a development server with no Monero wallet: two users register and log in, the faucet
(`pupero admin credit`) gives the seller 5 XMR, the seller posts a fixed-price sell offer, the
buyer opens a trade on it (with an Idempotency-Key, replayed once), marks it paid, the seller
releases it; the balances are checked to the piconero, both parties leave feedback and chat;
more makers (made at the machine with `pupero admin create-user`, since a new account may
have only 3 open offers) post 27 offers in all, the market is paged to its end, and the
seller's events are read to the end.

    python smoke.py --base-url http://127.0.0.1:PORT --pupero-bin /path/to/pupero

The faucet runs `pupero admin credit` with this process's environment, so
PUPERO_DATABASE_URL must name the server's database. Exits non-zero on the first failure.
"""

from __future__ import annotations

import argparse
import enum
import inspect
import re
import secrets
import subprocess
import sys
import types
import typing
import uuid
from decimal import Decimal
from typing import Any, Callable

from pupero_client import AuthenticatedClient, Client
from pupero_client.api.account import balance as balance_api
from pupero_client.api.auth import login as login_api
from pupero_client.api.auth import register as register_api
from pupero_client.api.events import events as events_api
from pupero_client.api.offers import create_offer, payment_methods, search_offers
from pupero_client.api.trades import (
    get_trade,
    leave_trade_feedback,
    list_trade_messages,
    mark_trade_paid,
    open_trade,
    post_trade_message,
    release_trade,
    user_feedback,
)
from pupero_client.models.feedback_request import FeedbackRequest
from pupero_client.models.login_request import LoginRequest
from pupero_client.models.offer_request import OfferRequest
from pupero_client.models.open_trade_request import OpenTradeRequest
from pupero_client.models.post_message_request import PostMessageRequest
from pupero_client.models.register_request import RegisterRequest
from pupero_client.models.release_request import ReleaseRequest
from pupero_client.types import UNSET, Unset

PICONERO_PER_XMR = 10**12
XMR_TEXT = re.compile(r"^(0|[1-9][0-9]*)(\.[0-9]{1,12})?$")

CURRENCY = "EUR"  # the TypeScript smoke uses another one, so their offers never mix
PRICE = "150.00"
FAUCET_XMR = "5"
TRADE_XMR = "1.25"
MAKERS = 8
PAGE_SIZE = 10


class Failure(Exception):
    pass


def check(condition: bool, what: str) -> None:
    if not condition:
        raise Failure(what)


def pico(text: Any) -> int:
    """A decimal XMR string as integer piconero, exactly (never through a float)."""
    check(isinstance(text, str) and XMR_TEXT.match(text) is not None, f"not a decimal XMR amount: {text!r}")
    value = Decimal(text) * PICONERO_PER_XMR
    check(value == value.to_integral_value(), f"more than 12 decimals: {text!r}")
    return int(value)


def text(value: Any) -> str:
    """A string field or a string enum member, as its string (the spec may turn closed string
    sets into enums; either way this is the wire value)."""
    if isinstance(value, enum.Enum):
        return str(value.value)
    check(isinstance(value, str), f"expected a string, got {value!r}")
    return value


def absent(value: Any) -> bool:
    return isinstance(value, Unset)


def _enum_in(annotation: Any) -> type[enum.Enum] | None:
    if inspect.isclass(annotation) and issubclass(annotation, enum.Enum):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            found = _enum_in(arg)
            if found is not None:
                return found
    return None


def call(fn: Any, status: int, **kwargs: Any) -> Any:
    """Calls a generated operation's `sync_detailed`, checks the HTTP status and returns the
    parsed body. String arguments whose parameter the client types as an enum are converted
    to it, so that this works whether the spec has enums there or plain strings."""
    detailed: Callable[..., Any] = fn.sync_detailed
    hints = typing.get_type_hints(detailed)
    for name, value in list(kwargs.items()):
        kind = _enum_in(hints.get(name))
        if kind is not None and isinstance(value, str):
            kwargs[name] = kind(value)
    response = detailed(**kwargs)
    name = fn.__name__.rsplit(".", 1)[-1]
    check(
        int(response.status_code) == status,
        f"{name}: expected HTTP {status}, got {int(response.status_code)}: {response.content[:500]!r}",
    )
    check(response.parsed is not None or status == 204, f"{name}: no parsed body")
    return response.parsed


def step(what: str) -> None:
    print(f"  - {what}", flush=True)


def register_and_login(base_url: str, username: str, password: str) -> tuple[str, AuthenticatedClient]:
    anon = Client(base_url=base_url, raise_on_unexpected_status=True)
    registered = call(
        register_api, 201, client=anon,
        body=RegisterRequest.from_dict({"username": username, "password": password}),
    )
    check(registered.username == username, f"registered as {registered.username!r}")
    return str(uuid.UUID(str(registered.user_id))), login(base_url, username, password)


def operator(pupero_bin: str, *args: str, stdin: str = "") -> None:
    """`pupero admin ...` on the server's database: the development faucet, or a user made at
    the machine."""
    done = subprocess.run(
        [pupero_bin, "admin", *args], input=stdin, capture_output=True, text=True, timeout=60,
    )
    check(done.returncode == 0, f"pupero admin {' '.join(args)}: {done.stderr.strip()}")


def login(base_url: str, username: str, password: str) -> AuthenticatedClient:
    anon = Client(base_url=base_url, raise_on_unexpected_status=True)
    tokens = call(
        login_api, 200, client=anon,
        body=LoginRequest.from_dict({"login": username, "password": password}),
    )
    check(text(tokens.token_type).lower() == "bearer", f"token type {tokens.token_type!r}")
    check(tokens.expires_in > 0 and len(tokens.access_token) > 20, "a usable access token")
    return AuthenticatedClient(base_url=base_url, token=tokens.access_token, raise_on_unexpected_status=True)


def available(client: AuthenticatedClient) -> int:
    b = call(balance_api, 200, client=client)
    check(pico(b.held) == 0, f"nothing held: {b.held}")
    return pico(b.available)


def smoke(base_url: str, pupero_bin: str) -> None:
    run = secrets.token_hex(3)
    alice_name, bob_name = f"alice_py_{run}", f"bob_py_{run}"
    password = "correct horse battery " + secrets.token_hex(4)
    anon = Client(base_url=base_url, raise_on_unexpected_status=True)

    step("register and log in alice (seller) and bob (buyer)")
    alice_id, alice = register_and_login(base_url, alice_name, password)
    bob_id, bob = register_and_login(base_url, bob_name, password)
    check(available(alice) == 0 and available(bob) == 0, "new accounts start empty")

    step(f"faucet: {FAUCET_XMR} XMR to alice")
    operator(pupero_bin, "credit", "--username", alice_name, "--amount", FAUCET_XMR)
    credit = pico(FAUCET_XMR)
    check(available(alice) == credit, "alice holds the faucet's credit")

    methods = call(payment_methods, 200, client=anon)
    check(len(methods) > 0, "the payment-method catalogue is not empty")
    method = text(methods[0].code)
    step(f"alice posts a sell offer: {CURRENCY} at {PRICE}, {method}")
    offer_body = {
        "side": "sell", "currency": CURRENCY, "payment_method": method,
        "payment_details": "IBAN on request", "price": PRICE,
        "min_amount": "0.01", "max_amount": "2", "payment_window_minutes": 60,
        "terms": "contract smoke", "visibility": "public",
    }
    offer = call(create_offer, 201, client=alice, body=OfferRequest.from_dict(offer_body))
    check(text(offer.side) == "sell" and text(offer.status) == "active", f"offer {offer.side}/{offer.status}")
    check(str(offer.owner_id) == alice_id, "alice owns the offer")
    check(Decimal(offer.price) == Decimal(PRICE), f"offer price {offer.price}")
    check(absent(offer.margin_percent), "a fixed-price offer has no margin")
    check(pico(offer.min_amount) == pico("0.01") and pico(offer.max_amount) == pico("2"), "offer limits")

    step("bob opens a trade with an Idempotency-Key, then replays it")
    key = str(uuid.uuid4())
    open_body = OpenTradeRequest.from_dict({"offer_id": str(offer.id), "amount": TRADE_XMR, "price": PRICE})
    trade = call(open_trade, 201, client=bob, body=open_body, idempotency_key=key)
    replay = call(open_trade, 200, client=bob, body=open_body, idempotency_key=key)
    check(replay.id == trade.id, "the replayed key returns the same trade")
    check(text(trade.state) == "escrowed", f"state {trade.state}")
    check(text(trade.your_side) == "buyer" and text(trade.maker_side) == "seller", "sides")
    check(str(trade.seller.id) == alice_id and str(trade.buyer.id) == bob_id, "parties")
    check(trade.seller.username == alice_name and trade.buyer.username == bob_name, "party names")
    check(sorted(text(a) for a in trade.actions) == ["cancel", "mark_paid"], f"bob's actions {trade.actions}")
    amount, seller_fee, buyer_fee = pico(trade.amount), pico(trade.seller_fee), pico(trade.buyer_fee)
    check(amount == pico(TRADE_XMR), f"amount {trade.amount}")
    check(pico(trade.escrowed) == amount + seller_fee, "escrowed = amount + seller fee")
    check(pico(trade.buyer_receives) == amount - buyer_fee, "buyer receives amount - buyer fee")
    check(Decimal(trade.fiat_amount) == Decimal(TRADE_XMR) * Decimal(PRICE), f"fiat amount {trade.fiat_amount}")
    check(text(trade.currency) == CURRENCY and text(trade.payment_method) == method, "currency and method")
    for field in ("paid_at_ms", "closed_at_ms", "disputed_by", "resolution"):
        check(absent(getattr(trade, field)), f"{field} is absent while escrowed")
    b = call(balance_api, 200, client=alice)
    check(pico(b.available) == credit - amount - seller_fee, f"alice's available while escrowed: {b.available}")

    step("bob marks it paid, alice releases it")
    paid = call(mark_trade_paid, 200, client=bob, id=trade.id, idempotency_key=str(uuid.uuid4()))
    check(text(paid.state) == "paid" and not absent(paid.paid_at_ms), f"state {paid.state}")
    seen = call(get_trade, 200, client=alice, id=trade.id)
    check(text(seen.your_side) == "seller" and "release" in [text(a) for a in seen.actions], f"alice's actions {seen.actions}")
    released = call(
        release_trade, 200, client=alice, id=trade.id,
        body=ReleaseRequest.from_dict({}), idempotency_key=str(uuid.uuid4()),
    )
    check(text(released.state) == "released" and not absent(released.closed_at_ms), f"state {released.state}")
    check(pico(released.seller_fee) == seller_fee and pico(released.buyer_fee) == buyer_fee, "fees unchanged")

    step(f"balances to the piconero (amount {trade.amount}, seller fee {trade.seller_fee}, buyer fee {trade.buyer_fee})")
    check(available(alice) == credit - amount - seller_fee, "alice: credit - amount - seller fee")
    check(available(bob) == amount - buyer_fee, "bob: amount - buyer fee")

    step("feedback both ways")
    fb = call(
        leave_trade_feedback, 201, client=bob, id=trade.id,
        body=FeedbackRequest.from_dict({"rating": "positive", "comment": "quick release"}),
    )
    check(fb.subject == alice_name and text(fb.rating) == "positive", f"bob's feedback {fb.subject}/{fb.rating}")
    fa = call(
        leave_trade_feedback, 201, client=alice, id=trade.id,
        body=FeedbackRequest.from_dict({"rating": "neutral"}),
    )
    check(fa.subject == bob_name and text(fa.rating) == "neutral" and fa.comment == "", "alice's feedback")
    about_alice = call(user_feedback, 200, client=anon, username=alice_name)
    check([text(f.rating) for f in about_alice.items] == ["positive"], "alice's public feedback")
    check(absent(about_alice.next_cursor), "one page of feedback")

    step("chat both ways")
    call(post_trade_message, 201, client=bob, id=trade.id, body=PostMessageRequest.from_dict({"body": "sent the money"}))
    call(post_trade_message, 201, client=alice, id=trade.id, body=PostMessageRequest.from_dict({"body": "got it, thanks"}))
    chat = call(list_trade_messages, 200, client=alice, id=trade.id)
    check(
        [(m.sender, text(m.sender_role), m.body) for m in chat.items]
        == [(bob_name, "buyer", "sent the money"), (alice_name, "seller", "got it, thanks")],
        f"chat {[(m.sender, m.body) for m in chat.items]}",
    )
    check(absent(chat.next_cursor), "one page of chat")

    # A new account may have 3 open offers: alice posts 2 more, and makers made at the machine
    # (the faucet gives each 1 XMR, so that their sell offers are listed) post 3 each.
    step(f"{MAKERS} more makers; {3 + 3 * MAKERS} offers; the market is paged {PAGE_SIZE} at a time")
    posted = {str(offer.id)}
    makers = [alice]
    for i in range(MAKERS):
        name = f"maker{i}_py_{run}"
        operator(pupero_bin, "create-user", "--username", name, stdin=password + "\n")
        operator(pupero_bin, "credit", "--username", name, "--amount", "1")
        makers.append(login(base_url, name, password))
    for m, maker in enumerate(makers):
        for i in range(2 if maker is alice else 3):
            more = dict(offer_body, price=f"{120 + 3 * m + i}.50", max_amount="0.5", terms=f"offer {m}.{i}")
            posted.add(str(call(create_offer, 201, client=maker, body=OfferRequest.from_dict(more)).id))
    check(len(posted) == 3 + 3 * MAKERS, "every offer is new")
    seen_ids: list[str] = []
    prices: list[Decimal] = []
    cursor: str | Unset = UNSET
    pages = 0
    while True:
        page = call(search_offers, 200, client=anon, side="sell", currency=CURRENCY, limit=PAGE_SIZE, cursor=cursor)
        pages += 1
        check(len(page.items) <= PAGE_SIZE, f"page of {len(page.items)}")
        check(pages <= 10, "the market ends")
        for o in page.items:
            check(text(o.side) == "sell" and text(o.currency) == CURRENCY, "filters hold")
            seen_ids.append(str(o.id))
            prices.append(Decimal(o.effective_price))
        if absent(page.next_cursor):
            break
        check(len(page.items) == PAGE_SIZE, "only the last page is short")
        cursor = page.next_cursor
    check(len(seen_ids) == len(set(seen_ids)), "no offer twice")
    check(set(seen_ids) == posted, f"the market shows alice's {len(posted)} offers, got {len(seen_ids)}")
    check(pages == -(-len(posted) // PAGE_SIZE), f"{pages} pages")
    check(prices == sorted(prices), "best (lowest) price first for sell offers, across pages")

    step("alice's events, 4 at a time, to the end")
    after, seqs, kinds = 0, [], set()
    for _ in range(100):
        ev = call(events_api, 200, client=alice, after=after, limit=4)
        for e in ev.items:
            seqs.append(e.seq)
            kinds.add(text(e.kind))
            if text(e.kind).startswith("trade_"):
                check(str(e.trade_id) == str(trade.id), "trade events name the trade")
        if ev.items:
            check(ev.next_ == ev.items[-1].seq, "next is the last seq")
        if not ev.has_more:
            break
        after = ev.next_
    else:
        raise Failure("the events never end")
    check(seqs == list(range(1, len(seqs) + 1)), f"seqs 1..n without gaps: {seqs}")
    for kind in ("trade_opened", "trade_paid", "trade_released", "chat_message", "feedback_received"):
        check(kind in kinds, f"alice heard of {kind} (kinds: {sorted(kinds)})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--pupero-bin", required=True)
    args = parser.parse_args()
    try:
        smoke(args.base_url.rstrip("/"), args.pupero_bin)
    except (Failure, subprocess.CalledProcessError) as e:
        print(f"python smoke FAILED: {e}", file=sys.stderr)
        return 1
    print("python smoke: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
