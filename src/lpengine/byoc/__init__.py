"""BYOC (bring your own container): external capabilities registered with the node, paid jobs
forwarded to them, their health watched (protocol.md §4.8).

    engine.byoc.register(Registration(name="echo", url="http://127.0.0.1:9000", capacity=2))
    engine.byoc.register_callable("upper", lambda job: JobOutput(job.body.upper()))
"""

from __future__ import annotations

from lpengine.byoc.job import JobRefused, JobRequest, JobSender
from lpengine.byoc.registration import Registration, RegistrationError, parse_registration
from lpengine.byoc.running import Job, JobResult
from lpengine.byoc.service import Byoc, JobToken
from lpengine.byoc.worker import JobInput, JobOutput

__all__ = [
    "Byoc",
    "Job",
    "JobInput",
    "JobOutput",
    "JobRefused",
    "JobRequest",
    "JobResult",
    "JobSender",
    "JobToken",
    "Registration",
    "RegistrationError",
    "parse_registration",
]
