"""``SimExchange``: the local Hyperliquid exchange's request handling and internal API.

The transport (``hlmm.sim.server``) hands it parsed JSON bodies; it answers with
JSON-able objects exactly shaped as Hyperliquid's (``hlmm.sim.info`` for /info)
and pushes events to listeners (``add_listener``; see ``hlmm.sim.events``).  All
trading state lives in ``hlmm.sim.venue.Venue``.

/exchange, step by step (any failure stops there; nothing is consumed):

1. structure (422 ``Failed to deserialize the JSON body into the target type``);
2. signature: L1 actions by ``recover_l1_signer`` (testnet source "b", the
   envelope's vaultAddress and expiresAfter hashed), ``approveAgent`` by
   ``recover_user_signed_signer``; the signer must be a user or an approved agent
   (``User or API Wallet 0x... does not exist.``), the user must have deposited;
3. vaultAddress: the target account must be one the user controls;
4. expiresAfter: a stale action is refused (``Action already expired``) and
   costs 5x its weight of the address budget;
5. nonce of the signer (``hlmm.sim.nonces``);
6. address rate limit of the target account: budget = ``address_budget_start`` +
   1 per USDC traded; an action of n orders/cancels costs n; past the budget one
   request per 10 s passes; cancels pass up to min(budget + 100000, 2 x budget);
7. the nonce is recorded, the budget charged, the action executed.

Actions: order (Alo/Gtc/Ioc, reduce-only, cloid, grouping "na"), cancel,
cancelByCloid, modify (cancel + new order with a new oid, keeping the cloid),
batchModify, scheduleCancel, updateLeverage (cross only), noop, approveAgent.
Trigger orders and isolated margin are refused with a specific error text.

The internal API for market-flow agents (no signatures, nonces or rate limits; the
same matching, fees, margin and events) is ``hlmm.sim.flow_api.MarketFlowAPI``,
inherited here: ``create_account``, ``fund``, ``internal_place``, ``internal_cancel``,
``internal_cancel_all``, ``set_oracle``, ``book_top``, ``position_lots``,
``open_orders_of``, ``depth_lots``, ``order_lots``, ``asset``, ``now``, ``flow_time``,
``attach_market`` (``market.step(now_ms)`` from ``advance()`` and before every request,
``market.truth()`` for simTruth).
"""
from __future__ import annotations

import re
import time
from typing import Any, Callable

from hlmm.exchange import wire
from hlmm.exchange.assets import AssetInfo, AssetRegistry
from hlmm.exchange.signing import (
    USER_SIGNED_TYPES,
    SignatureError,
    SigningError,
    recover_l1_signer,
    recover_user_signed_signer,
)
from hlmm.sim import errors, parse
from hlmm.sim.accounts import Account
from hlmm.sim.config import SimConfig
from hlmm.sim.errors import SimError, bad_request
from hlmm.sim.events import Listener
from hlmm.sim.exchange_faults import ExchangeFaults
from hlmm.sim.flow_api import Market, MarketFlowAPI
from hlmm.sim.info import InfoService, info_weight, meta_json
from hlmm.sim.nonces import NonceSet
from hlmm.sim.numbers import MICRO, div_round, usd_to_micro
from hlmm.sim.venue import Venue

_VALID_UNTIL = re.compile(r"^(.*?)\s*valid_until\s+(\d+)$")
_BATCH_KEYS = ("orders", "cancels", "modifies")
# Real Hyperliquid actions the sim does not implement: refused by name rather than with a 422,
# so a client sees that the exchange understood the request.
UNSUPPORTED_ACTIONS = frozenset({
    "updateIsolatedMargin", "topUpIsolatedOnlyMargin", "usdSend", "spotSend", "withdraw3", "usdClassTransfer",
    "sendAsset", "approveBuilderFee", "createSubAccount", "subAccountTransfer", "vaultTransfer", "setReferrer",
    "twapOrder", "twapCancel", "reserveRequestWeight", "claimRewards", "tokenDelegate", "createVault",
    "cDeposit", "cWithdraw", "evmUserModify", "registerReferrer", "convertToMultiSigUser", "multiSig",
})
MAX_NAMED_AGENTS = 3


class SimExchange(MarketFlowAPI):
    """The sim's exchange.  See the module docstring; the transport contract is in TEAM.md."""

    def __init__(self, config: SimConfig, now_ms: Callable[[], int] | None = None) -> None:
        self.config = config
        self._clock = now_ms or (lambda: int(time.time() * 1000))
        self.registry = AssetRegistry.from_meta(meta_json(config))
        infos = [self.registry.by_id(i) for i in range(len(config.assets))]
        coins = [a.name for a in config.assets]
        self.faults = ExchangeFaults(coins, on_unfreeze=self._on_unfreeze)
        self.venue = Venue(config, infos, lambda asset: self.faults.is_frozen(coins[asset]))
        self.info = InfoService(self)
        self.market: Market | None = None
        self._agents: dict[str, tuple[str, int | None]] = {}  # agent -> (master, valid until ms)
        self._agent_nonces: dict[str, NonceSet] = {}
        self._step_time: int | None = None
        self._step_now = 0
        self._mids_sent: dict | None = None
        for address, usdc in config.demo_accounts.items():
            self.create_account(address, usdc)
        self.venue.settle(self._clock())

    # ---- transport contract ----------------------------------------------------
    def now(self) -> int:
        return self._step_time if self._step_time is not None else self._clock()

    def add_listener(self, fn: Listener) -> None:
        self.venue.events.listeners.append(fn)

    def dirty_books(self) -> list[str]:
        return self.venue.take_dirty()

    def l2_book(self, coin: str, n_sig_figs: int | None = None, mantissa: int | None = None) -> dict:
        body = {"type": "l2Book", "coin": coin, "nSigFigs": n_sig_figs, "mantissa": mantissa}
        result = self.info.handle(body, self.now())
        if result is None:
            raise SimError(f"unknown coin {coin!r}")
        return result

    def user_fills_snapshot(self, user: str) -> list[dict]:
        return self.info.user_fills_snapshot(user)

    def info_weight(self, body: dict, response: object) -> int:
        return info_weight(body, response)

    def exchange_weight(self, body: dict) -> int:
        """1 + floor(batch length / 40)."""
        action = body.get("action") if isinstance(body, dict) else None
        n = 0
        if isinstance(action, dict):
            for key in _BATCH_KEYS:
                if isinstance(action.get(key), list):
                    n = len(action[key])
        return 1 + n // 40

    def handle_info(self, body: dict) -> object:
        now = self.now()
        self._settle(now)
        return self.info.handle(body, now)

    def advance(self, now_ms: int) -> None:
        """Run the clock to ``now_ms``: dead-man switches, funding, then the market's step."""
        self._settle(now_ms)
        mids = self.info.all_mids()
        if mids != self._mids_sent:
            self._mids_sent = mids
            self.venue.events.emit("allMids", None, {"mids": mids})

    def _settle(self, now: int) -> None:
        """Everything due by ``now``: dead-man switches, funding, and the market's flow (so a
        request sees, and comes after, the flow of every market step due by its time)."""
        self.venue.settle(now)
        self._run_market(now)
        self.venue.flush(now)

    def _run_market(self, now: int) -> None:
        if self.market is None or self._step_time is not None:  # none, or already inside its step
            return
        self._step_time = self._step_now = now
        try:
            self.market.step(now)
        finally:
            self._step_time = None

    def _on_unfreeze(self, coin: str) -> None:
        self.venue.mark_dirty(self.venue.asset_of[coin])

    # ---- /exchange -------------------------------------------------------------
    def handle_exchange(self, body: dict) -> dict:
        now = self.now()
        self._settle(now)
        if not isinstance(body, dict):
            raise bad_request()
        action = parse.obj(body.get("action"))
        kind = action.get("type")
        handler = parse.choice(kind, self._ACTIONS)
        if handler is None:
            if isinstance(kind, str) and kind in UNSUPPORTED_ACTIONS:
                return _err(errors.action_unsupported(kind))  # type: ignore[arg-type]
            raise bad_request()
        nonce = parse.uint(body.get("nonce"))
        signature = parse.obj(body.get("signature"))
        vault = body.get("vaultAddress")
        vault = None if vault is None else parse.address(vault)
        expires = parse.opt_uint(body.get("expiresAfter"))
        parsed = getattr(self, handler[0])(action)

        user_signed = kind in USER_SIGNED_TYPES
        try:
            if user_signed:
                if vault is not None or expires is not None:
                    raise bad_request()
                primary, types = USER_SIGNED_TYPES[kind]
                signer = recover_user_signed_signer(action, types, primary, signature).lower()
            else:
                signer = recover_l1_signer(action, body.get("vaultAddress"), nonce, expires,
                                           self.config.is_mainnet, signature).lower()
        except SignatureError:
            return _err(errors.UNRECOVERABLE_SIGNER)
        except SigningError:
            raise bad_request() from None

        user, nonces = self._resolve_signer(signer, now)
        if user is None:
            return _err(errors.unknown_signer(signer))
        if user_signed and user.address != signer:
            return _err(errors.AGENT_CANNOT_APPROVE)
        if not user.deposited:
            return _err(errors.must_deposit(user.address))
        target = user
        if vault is not None:
            target = self.venue.accounts.get(vault)  # type: ignore[assignment]
            if target is None or vault not in user.controls:
                return _err(errors.vault_not_controlled(vault, user.address))
        weight = self._address_weight(kind, action)
        if expires is not None and now > expires:
            target.n_requests_used += 5 * weight
            return _err(errors.EXPIRED)
        problem = nonces.check(nonce, now)
        if problem is not None:
            return _err(problem)
        is_cancel = kind in ("cancel", "cancelByCloid")
        problem, throttled = self._rate_check(target, weight, is_cancel, now)
        if problem is not None:
            return _err(problem)
        nonces.commit(nonce)
        target.n_requests_used += weight
        if throttled:
            target.last_throttled_ms = now
        try:
            return getattr(self, handler[1])(target, parsed, now, nonce=nonce, signer=signer)
        finally:
            self.venue.flush(now)

    # action type -> (parser method, executor method)
    _ACTIONS = {
        "order": ("_parse_order", "_do_order"),
        "cancel": ("_parse_cancel", "_do_cancel"),
        "cancelByCloid": ("_parse_cancel_by_cloid", "_do_cancel_by_cloid"),
        "modify": ("_parse_modify", "_do_modify"),
        "batchModify": ("_parse_batch_modify", "_do_batch_modify"),
        "scheduleCancel": ("_parse_schedule_cancel", "_do_schedule_cancel"),
        "updateLeverage": ("_parse_update_leverage", "_do_update_leverage"),
        "noop": ("_parse_noop", "_do_noop"),
        "approveAgent": ("_parse_approve_agent", "_do_approve_agent"),
    }

    @staticmethod
    def _address_weight(kind: str, action: dict) -> int:
        for key in _BATCH_KEYS:
            if isinstance(action.get(key), list):
                return max(1, len(action[key]))
        return 1

    def _resolve_signer(self, signer: str, now: int) -> tuple[Account | None, NonceSet]:
        acct = self.venue.accounts.get(signer)
        if acct is not None:
            return acct, acct.nonces
        entry = self._agents.get(signer)
        if entry is not None:
            master, valid_until = entry
            if valid_until is None or now <= valid_until:
                return self.venue.accounts[master], self._agent_nonces[signer]
        return None, NonceSet()

    def request_cap(self, acct: Account | None) -> int:
        """The address budget: start + 1 per USDC traded."""
        vlm = acct.cum_vlm if acct is not None else 0
        return self.config.address_budget_start + vlm // MICRO

    def _rate_check(self, acct: Account, n: int, is_cancel: bool, now: int) -> tuple[str | None, bool]:
        """(error text or None, whether this request passes on the rate-limited trickle)."""
        cap = self.request_cap(acct)
        used = acct.n_requests_used + n
        if used <= cap:
            return None, False
        if is_cancel and used <= min(cap + self.config.cancel_allowance_extra, 2 * cap):
            return None, False
        last = acct.last_throttled_ms
        if last is None or now - last >= self.config.rate_limited_interval_ms:
            return None, True
        return errors.rate_limited(used, cap, div_round(acct.cum_vlm, MICRO)), False

    # ---- order -----------------------------------------------------------------
    def _parse_order(self, action: dict) -> tuple[list[parse.OrderWire], str, bool]:
        orders = [parse.order_wire(w) for w in parse.array(action.get("orders"))]
        grouping = parse.grouping(action.get("grouping"))
        builder = action.get("builder") is not None
        if builder:
            b = parse.obj(action["builder"])
            parse.address(b.get("b"))
            parse.uint(b.get("f"))
        return orders, grouping, builder

    def _do_order(self, acct: Account, parsed: tuple[list[parse.OrderWire], str, bool], now: int,
                  **_: Any) -> dict:
        orders, grouping, builder = parsed
        # whole-batch pre-validation, one error for the batch (reference §3)
        if not orders:
            return _err(errors.EMPTY_BATCH)
        if grouping != "na":
            return _err(errors.GROUPING_UNSUPPORTED)
        if builder:
            return _err(errors.BUILDER_UNSUPPORTED)
        tx = self.venue.new_hash()
        statuses = [self._place_wire(acct, w, now, tx) for w in orders]
        return _ok("order", statuses)

    def _check_wire(self, w: parse.OrderWire) -> tuple[str | None, AssetInfo | None, int, int]:
        """(error text, asset, px units, lots) for a received order wire."""
        if w.asset >= len(self.venue.infos):
            return errors.unknown_asset(w.asset), None, 0, 0
        info = self.venue.infos[w.asset]
        if w.tif is None:
            return errors.TRIGGER_UNSUPPORTED, info, 0, 0
        problem = wire.check_order_wire(w.p, w.s, info, w.reduce_only)
        if problem is not None:
            return problem, info, 0, 0
        px = wire.wire_to_units(w.p, info.px_decimals)
        lots = wire.wire_to_units(w.s, info.sz_decimals)
        return None, info, px, lots  # type: ignore[return-value]

    def _place_wire(self, acct: Account, w: parse.OrderWire, now: int, tx: str,
                    keep_cloid: str | None = None) -> dict:
        if self.faults.take_reject():
            return {"error": errors.FAULT_REJECT}
        problem, info, px, lots = self._check_wire(w)
        if problem is not None:
            return {"error": problem}
        cloid = w.cloid if w.cloid is not None else keep_cloid
        return self.venue.place(acct, w.asset, w.is_buy, px, lots, w.tif, w.reduce_only,  # type: ignore[arg-type]
                                cloid, now, tx)

    # ---- cancels ---------------------------------------------------------------
    def _parse_cancel(self, action: dict) -> list[tuple[int, int]]:
        out = []
        for c in parse.array(action.get("cancels")):
            c = parse.obj(c)
            out.append((parse.uint(c.get("a")), parse.uint(c.get("o"))))
        return out

    def _do_cancel(self, acct: Account, cancels: list[tuple[int, int]], now: int, **_: Any) -> dict:
        statuses = []
        for asset, oid in cancels:
            rec = self.venue.orders.open.get(oid)
            ok = rec is not None and rec.user == acct.address and rec.asset == asset
            statuses.append(self._cancel_status(rec if ok else None, now))
        return _ok("cancel", statuses)

    def _parse_cancel_by_cloid(self, action: dict) -> list[tuple[int, str]]:
        out = []
        for c in parse.array(action.get("cancels")):
            c = parse.obj(c)
            out.append((parse.uint(c.get("asset")), parse.cloid(c.get("cloid"))))
        return out

    def _do_cancel_by_cloid(self, acct: Account, cancels: list[tuple[int, str]], now: int, **_: Any) -> dict:
        statuses = []
        for asset, cloid in cancels:
            rec = self.venue.orders.by_cloid(acct.address, cloid)
            ok = rec is not None and rec.oid in self.venue.orders.open and rec.asset == asset
            statuses.append(self._cancel_status(rec if ok else None, now))
        return _ok("cancel", statuses)

    def _cancel_status(self, rec: Any, now: int) -> Any:
        if rec is None:
            return {"error": errors.MISSING_ORDER}
        if self.faults.is_frozen(rec.coin):
            return {"error": errors.FROZEN}
        self.venue.cancel(rec, "canceled", now)
        return "success"

    # ---- modify ----------------------------------------------------------------
    def _parse_modify(self, action: dict) -> tuple[int | str, parse.OrderWire]:
        return parse.oid_or_cloid(action.get("oid")), parse.order_wire(action.get("order"))

    def _do_modify(self, acct: Account, parsed: tuple[int | str, parse.OrderWire], now: int, **_: Any) -> dict:
        status = self._modify_one(acct, parsed[0], parsed[1], now, self.venue.new_hash())
        if "error" in status:
            return _err(status["error"])
        return _default()

    def _parse_batch_modify(self, action: dict) -> list[tuple[int | str, parse.OrderWire]]:
        out = []
        for m in parse.array(action.get("modifies")):
            m = parse.obj(m)
            out.append((parse.oid_or_cloid(m.get("oid")), parse.order_wire(m.get("order"))))
        return out

    def _do_batch_modify(self, acct: Account, mods: list, now: int, **_: Any) -> dict:
        tx = self.venue.new_hash()
        return _ok("order", [self._modify_one(acct, ref, w, now, tx) for ref, w in mods])

    def _modify_one(self, acct: Account, ref: int | str, w: parse.OrderWire, now: int, tx: str) -> dict:
        orders = self.venue.orders
        rec = orders.by_cloid(acct.address, ref) if isinstance(ref, str) else orders.get(ref)
        if rec is None or rec.user != acct.address or rec.oid not in orders.open:
            return {"error": errors.MODIFY_MISSING}
        if w.asset != rec.asset:
            return {"error": errors.MODIFY_MISSING}
        if self.faults.take_reject():
            return {"error": errors.FAULT_REJECT}
        problem, _info, px, lots = self._check_wire(w)
        if problem is not None:
            return {"error": problem}
        if self.faults.is_frozen(rec.coin):
            return {"error": errors.FROZEN}
        self.venue.cancel(rec, "canceled", now)
        cloid = w.cloid if w.cloid is not None else rec.cloid
        return self.venue.place(acct, w.asset, w.is_buy, px, lots, w.tif, w.reduce_only,  # type: ignore[arg-type]
                                cloid, now, tx)

    # ---- other actions ---------------------------------------------------------
    def _parse_schedule_cancel(self, action: dict) -> int | None:
        return parse.opt_uint(action.get("time"))

    def _do_schedule_cancel(self, acct: Account, at: int | None, now: int, **_: Any) -> dict:
        if at is None:
            self.venue.schedule_cancel(acct, None)
            return _default()
        required = usd_to_micro(self.config.schedule_cancel_min_volume_usd)
        if acct.cum_vlm < required:
            return _err(errors.schedule_volume(div_round(required, MICRO), div_round(acct.cum_vlm, MICRO)))
        if at < now + 5000:
            return _err(errors.SCHEDULE_TOO_EARLY)
        if self.venue.fired_today(acct, now) >= self.config.schedule_cancel_max_per_day:
            return _err(errors.SCHEDULE_TOO_MANY)
        self.venue.schedule_cancel(acct, at)
        return _default()

    def _parse_update_leverage(self, action: dict) -> tuple[int, bool, int]:
        return parse.uint(action.get("asset")), parse.boolean(action.get("isCross")), parse.uint(action.get("leverage"))

    def _do_update_leverage(self, acct: Account, parsed: tuple[int, bool, int], now: int, **_: Any) -> dict:
        asset, is_cross, leverage = parsed
        if asset >= len(self.config.assets):
            return _err(errors.unknown_asset(asset))
        if not is_cross:
            return _err(errors.ISOLATED_UNSUPPORTED)
        if not 1 <= leverage <= self.config.assets[asset].max_leverage:
            return _err(errors.INVALID_LEVERAGE)
        previous = acct.leverage.get(asset)
        acct.leverage[asset] = leverage
        marks = self.venue.marks()
        if acct.position_lots(asset) and acct.margin_used(self.config.assets, marks, self.config.default_leverage) \
                > acct.account_value(marks):
            if previous is None:
                del acct.leverage[asset]
            else:
                acct.leverage[asset] = previous
            return _err(errors.LEVERAGE_MARGIN)
        return _default()

    def _parse_noop(self, action: dict) -> None:
        return None

    def _do_noop(self, acct: Account, parsed: None, now: int, **_: Any) -> dict:
        return _default()

    def _parse_approve_agent(self, action: dict) -> tuple[str, str, int, str]:
        agent = parse.address(action.get("agentAddress"))
        name = action.get("agentName", "")
        name = "" if name is None else parse.string(name)
        parse.string(action.get("signatureChainId"))
        return agent, name, parse.uint(action.get("nonce")), parse.string(action.get("hyperliquidChain"))

    def _do_approve_agent(self, acct: Account, parsed: tuple[str, str, int, str], now: int, *,
                          nonce: int, **_: Any) -> dict:
        agent, name, inner_nonce, signed_chain = parsed
        if inner_nonce != nonce:
            return _err(errors.NONCE_MISMATCH)
        chain = "Mainnet" if self.config.is_mainnet else "Testnet"
        # hyperliquidChain is signed: an approval made for the other network is refused
        if signed_chain != chain:
            return _err(errors.chain_mismatch(chain))
        valid_until = None
        m = _VALID_UNTIL.match(name)
        if m:
            name, valid_until = m.group(1), int(m.group(2))
        if agent in self.venue.accounts:
            return _err(errors.agent_is_user(agent))
        if name and name not in acct.agents and sum(1 for n in acct.agents if n) >= MAX_NAMED_AGENTS:
            return _err(errors.too_many_agents(MAX_NAMED_AGENTS))
        old = acct.agents.get(name)
        if old is not None:
            self._agents.pop(old, None)
            self._agent_nonces.pop(old, None)
        previous = self._agents.get(agent)
        if previous is not None:  # the agent moves: drop it from its previous master's names
            prev_acct = self.venue.accounts[previous[0]]
            for n, a in list(prev_acct.agents.items()):
                if a == agent:
                    del prev_acct.agents[n]
        acct.agents[name] = agent
        self._agents[agent] = (acct.address, valid_until)
        self._agent_nonces[agent] = NonceSet()
        return _default()


def _ok(kind: str, statuses: list) -> dict:
    return {"status": "ok", "response": {"type": kind, "data": {"statuses": statuses}}}


def _default() -> dict:
    return {"status": "ok", "response": {"type": "default"}}


def _err(text: str) -> dict:
    return {"status": "err", "response": text}
