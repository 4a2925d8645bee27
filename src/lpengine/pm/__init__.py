"""Probabilistic micropayments, byte-compatible with go-livepeer: tickets, params, validation,
balances and the durable queue of winning tickets.

The server holds one `PaymentReceiver`; everything a route needs is a method on it.
"""

from __future__ import annotations

from lpengine.pm.chainview import ChainError, ChainView, InMemoryChain, SenderInfo
from lpengine.pm.config import PaymentConfig
from lpengine.pm.errors import InsufficientSenderReserve, PaymentError
from lpengine.pm.outcome import PaymentOutcome
from lpengine.pm.payment import (
    Payment,
    PriceInfo,
    TicketExpirationParams,
    TicketParams,
    TicketSenderParams,
)
from lpengine.pm.receiver import PaymentReceiver
from lpengine.pm.signature import Signer
from lpengine.pm.ticket import SignedTicket, Ticket

__all__ = [
    "ChainError",
    "ChainView",
    "InMemoryChain",
    "InsufficientSenderReserve",
    "Payment",
    "PaymentConfig",
    "PaymentError",
    "PaymentOutcome",
    "PaymentReceiver",
    "PriceInfo",
    "SenderInfo",
    "SignedTicket",
    "Signer",
    "Ticket",
    "TicketExpirationParams",
    "TicketParams",
    "TicketSenderParams",
]
