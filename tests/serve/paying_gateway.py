"""A gateway that discovers and pays over the wire, as go's does (server/rpc.go, segment_rpc.go).

Its signatures (the discovery request, SegData, tickets) are made with eth_account and
eth_utils' keccak: an independent path from lpengine's signer and hashing.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from fractions import Fraction

import grpc
import httpx
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils import keccak, to_checksum_address

from lpengine.net import lp_rpc_pb2 as pb
from lpengine.pm import Payment, PriceInfo, TicketExpirationParams, TicketParams
from tests.helpers import ServerProcess, unary
from tests.pm.gateway import Gateway

MAX_WIN_PROB = 2**256 - 1  # a ticket wins with probability win_prob / MAX_WIN_PROB


def minimal(value: int) -> bytes:
    return value.to_bytes((value.bit_length() + 7) // 8, "big")


def big(b: bytes) -> int:
    return int.from_bytes(b, "big")


def params_from_pb(m: pb.TicketParams) -> TicketParams:
    return TicketParams(
        m.recipient,
        big(m.face_value),
        big(m.win_prob),
        m.recipient_rand_hash,
        big(m.seed),
        big(m.expiration_block),
        TicketExpirationParams(
            m.expiration_params.creation_round, m.expiration_params.creation_round_block_hash
        ),
    )


def payment_to_pb(p: Payment) -> pb.Payment:
    m = pb.Payment(sender=p.sender)
    if (t := p.ticket_params) is not None:
        m.ticket_params.recipient = t.recipient
        m.ticket_params.face_value = minimal(t.face_value)
        m.ticket_params.win_prob = minimal(t.win_prob)
        m.ticket_params.recipient_rand_hash = t.recipient_rand_hash
        m.ticket_params.seed = minimal(t.seed)
        m.ticket_params.expiration_block = minimal(t.expiration_block)
    if (e := p.expiration_params) is not None:
        m.expiration_params.creation_round = e.creation_round
        m.expiration_params.creation_round_block_hash = e.creation_round_block_hash
        m.ticket_params.expiration_params.CopyFrom(m.expiration_params)
    for ticket in p.ticket_sender_params:
        m.ticket_sender_params.add(sender_nonce=ticket.sender_nonce, sig=ticket.sig)
    if (price := p.expected_price) is not None:
        m.expected_price.pricePerUnit = price.price_per_unit
        m.expected_price.pixelsPerUnit = price.pixels_per_unit
    return m


def header(message: pb.Payment | pb.SegData) -> str:
    """Standard base64 with padding, as go's gateway writes the headers."""
    return base64.b64encode(message.SerializeToString()).decode()


class WireGateway:
    def __init__(self, private_key: bytes) -> None:
        self.key = private_key
        self.checksum = Account.from_key(private_key).address
        self.address = bytes.fromhex(self.checksum[2:])
        self.tickets = Gateway(private_key, sign=self.sign_digest)

    def sign_digest(self, digest: bytes) -> bytes:
        """EIP-191 over a 32-byte digest (go's `Sign(keccak256(msg))` signs keccak256(msg))."""
        return bytes(Account.sign_message(encode_defunct(primitive=digest), self.key).signature)

    def request(self, **fields: object) -> pb.OrchestratorRequest:
        """go's genOrchestratorReq: the signature over the checksummed hex address."""
        sig = self.sign_digest(keccak(text=to_checksum_address(self.checksum)))
        return pb.OrchestratorRequest(address=self.address, sig=sig, **fields)  # type: ignore[arg-type]

    def discover(self, channel: grpc.Channel, **fields: object) -> pb.OrchestratorInfo:
        call = unary(channel, "GetOrchestrator", pb.OrchestratorInfo)
        return call(self.request(**fields), timeout=5)

    def segment(
        self, info: pb.OrchestratorInfo, manifest_id: bytes, seq: int = 0, **fields: object
    ) -> pb.SegData:
        """SegData signed as go's genSegCreds: for /payment with no profiles and no hash, for
        /segment with `hash=keccak(body)` and the profiles in `fullProfiles3` (or 2, or 1)."""
        seg = pb.SegData(manifestId=manifest_id, seq=seq, **fields)  # type: ignore[arg-type]
        seg.auth_token.CopyFrom(info.auth_token)
        flat = manifest_id + seq.to_bytes(32, "big") + seg.hash[-32:].rjust(32, b"\0")
        for p in seg.fullProfiles3 or seg.fullProfiles2 or seg.fullProfiles:
            flat += keccak(text=p.name)[:4].hex().encode()
        seg.sig = self.sign_digest(keccak(flat))
        return seg

    def pay(
        self, info: pb.OrchestratorInfo, nonces: Iterable[int], price: PriceInfo | None = None
    ) -> Payment:
        """Tickets with the quoted params, at the quoted price unless `price` says otherwise."""
        quoted = PriceInfo(info.price_info.pricePerUnit, info.price_info.pixelsPerUnit)
        return self.tickets.pay(params_from_pb(info.ticket_params), nonces, price or quoted)


def funded_gateway(cli_url: str, key: bytes, amount: str = "1eth") -> WireGateway:
    """A gateway whose deposit and reserve the simulated chain's operator API has funded."""
    gw = WireGateway(key)
    fund = {"sender": gw.checksum, "deposit": amount, "reserve": amount}
    r = httpx.post(f"{cli_url}/simulated/fund", data=fund)
    assert r.status_code == 200, r.text
    return gw


def paid_headers(
    gateway: WireGateway, info: pb.OrchestratorInfo, nonces: Iterable[int], manifest_id: bytes
) -> dict[str, str]:
    """Livepeer-Payment (one ticket a nonce, at the quoted price) and Livepeer-Segment, as
    go's gateway sends them with an AI job or a live stream's start and top-ups."""
    payment = gateway.pay(info, nonces)
    return {
        "Livepeer-Payment": header(payment_to_pb(payment)),
        "Livepeer-Segment": header(gateway.segment(info, manifest_id)),
    }


def balance(server: ServerProcess, gateway: WireGateway, key: str) -> Fraction | None:
    """The gateway's credit on the node under `key` (operator API), in wei; None: no balance."""
    doc = httpx.get(f"{server.cli_url}/balance", params={"sender": gateway.checksum, "key": key})
    assert doc.status_code == 200, doc.text
    value = doc.json()["balance_wei"]
    return None if value is None else Fraction(value)


def ev_and_price(info: pb.OrchestratorInfo) -> tuple[Fraction, Fraction]:
    """A ticket's expected value (wei) and the price (wei a unit) that discovery quoted."""
    p = info.ticket_params
    ev = Fraction(big(p.face_value) * big(p.win_prob), MAX_WIN_PROB)
    return ev, Fraction(info.price_info.pricePerUnit, info.price_info.pixelsPerUnit)
