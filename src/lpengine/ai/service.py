"""Batch AI jobs as gateways pay for them (protocol.md §4.5), for the engine and its hosts.

`accept` runs the checks before any work, in go's order: the segment credentials (403), the
request's own validation and pricing units (400), a capacity place for (pipeline, model) taken
*before* payment so a gateway never pays for refused work (503 `insufficient capacity`), the
payment into balance key `"<capability>_<model_id>"` (400) and, with a price, the balance check
(400 `Insufficient balance`). A refusal after the place was taken gives it back. `run` does the
job and, on success only, debits the units at the payment's expected price.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from lpengine.ai.errors import classify
from lpengine.ai.manager import ModelManager, ModelSlot
from lpengine.ai.pipelines import Prepared
from lpengine.ai.results import RESULTS_TTL_S, new_request_id, store_results
from lpengine.auth_token import AuthToken
from lpengine.media.store import RenditionStore
from lpengine.payment import Payment, SegmentCredentials

log = logging.getLogger(__name__)

SPARE_THREADS = 4  # for requests that get refused (capacity, payment) while all places run


@dataclass
class AIJob:
    pipeline: str
    model_id: str
    payment: Payment
    balance_key: str
    prepared: Prepared
    slot: ModelSlot
    done: bool = False
    queue_s: float = 0.0  # once run: waiting for the model (ModelManager.run)
    model_s: float = 0.0  # once run: in model calls


class JobFailed(Exception):
    """The job ran and failed: the status and message of ai-api.md §1.1."""

    def __init__(self, status: int, msg: str) -> None:
        super().__init__(msg)
        self.status = status
        self.msg = msg


class AIService:
    def __init__(
        self,
        manager: ModelManager,
        check_credentials: Callable[[SegmentCredentials, bytes], AuthToken],
        take_payment: Callable[[Payment, str], None],
        check_balance: Callable[[Payment, str], None],
        debit: Callable[[Payment, str, int], None],
        results: RenditionStore | None = None,
        results_url: str = "",
    ) -> None:
        self.manager = manager
        self.results = results if results is not None else RenditionStore(ttl_s=RESULTS_TTL_S)
        self.results_url = results_url  # the node's service URI: stored results' URLs
        self._check_credentials = check_credentials
        self._take_payment = take_payment
        self._check_balance = check_balance
        self._debit = debit
        # NOTE: a job holds its thread while it waits for its model, so AI jobs get their own
        # threads, as many as the models have places (+ refusals in flight), and never starve
        # the shared pool that /segment and /payment use (anyio's: 40 threads).
        places = sum(s.config.capacity for s in manager.slots.values())
        self.jobs = ThreadPoolExecutor(places + SPARE_THREADS, thread_name_prefix="ai-job")

    def accept(
        self, payment: Payment, creds: SegmentCredentials, pipeline: str, params: dict[str, Any]
    ) -> AIJob:
        """Raises CredentialsError (403), AIError (400/413/415), NoCapacity (503),
        PaymentError (400) or InternalError (500)."""
        self._check_credentials(creds, payment.sender)
        slot = self.manager.slot(pipeline, params.get("model_id", params.get("model", "")))
        prepared = self.manager.prepare(slot, params)
        self.manager.reserve(slot)
        key = f"{int(slot.pipeline.capability)}_{slot.config.model_id}"
        try:
            self._take_payment(payment, key)
            self._check_balance(payment, key)
        except BaseException:
            self.manager.release(slot)
            raise
        return AIJob(pipeline, slot.config.model_id, payment, key, prepared, slot)

    def run(self, job: AIJob, store: bool = False) -> dict[str, Any]:
        """The route's JSON body, its media stored for download and answered as URLs when
        `store` (lpengine.ai.results); raises JobFailed. Blocking (loads, waits for batches)."""
        if job.done:
            raise RuntimeError("an AI job runs once")
        job.done = True
        start = time.perf_counter()
        try:
            ran = self.manager.run(job.slot, job.prepared.items)
            job.queue_s, job.model_s = ran.queue_s, ran.model_s
            body = job.slot.pipeline.respond(job.prepared, ran.results)
        except Exception as err:
            failure = classify(err, job.pipeline)
            log.log(logging.WARNING if failure.status < 500 else logging.ERROR,
                    "%s/%s failed (%d %s): %s", job.pipeline, job.model_id, failure.status,
                    failure.msg, err)  # fmt: skip
            raise JobFailed(failure.status, failure.msg) from None
        finally:
            self.manager.release(job.slot)
        self._debit(job.payment, job.balance_key, job.prepared.units)
        log.debug("%s/%s done in %.3f s (%d units)", job.pipeline, job.model_id,
                  time.perf_counter() - start, job.prepared.units)  # fmt: skip
        if not store:
            return body
        try:
            return store_results(body, job.pipeline, self.results, self.results_url,
                                 new_request_id())  # fmt: skip
        except ValueError as err:  # paid for and done, but it cannot be handed over
            log.error("%s/%s: results not stored: %s", job.pipeline, job.model_id, err)
            raise JobFailed(500, "Failed to store the results.") from None

    def close(self) -> None:
        """Unloads the models; jobs still queued for a thread are dropped."""
        self.jobs.shutdown(wait=False, cancel_futures=True)
        self.manager.close()

    def cancel(self, job: AIJob) -> None:
        """Gives the place back for a job that will not run (the client went away)."""
        if not job.done:
            job.done = True
            self.manager.release(job.slot)
