"""schemathesis against one of the service's OpenAPI documents, as `make fuzz` and the suite's
short run (tests/test_schemathesis.py) call it.

Every phase (examples, coverage, fuzzing, stateful: the documents' links lead from a created
resource to its reads, updates and deletes) and every check but one:
`positive_data_acceptance`, which expects each schema-valid request to succeed. Requests the
rules refuse though their shape is right (a currency that is not ISO 4217, a tag name already
taken, a debit larger than the balance, a trigger the card's status forbids) are 422s or 409s
by design; the documents say so, but no OpenAPI schema can express those rules. The other
checks hold the server to its documents (and on the plain API, `use_after_free` is left out
too: seed 000's DELETE of a card or a client is a soft delete, after which GET still answers
with `"status": "Deleted"` or `"active": false`, as the seed describes): no 5xx, only
documented statuses, content types and headers, bodies of the documented shapes,
schema-invalid input refused, 405 for undocumented methods, 401 without the key.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

PHASES = "examples,coverage,fuzzing,stateful"
EXCLUDED_CHECKS = {
    "plain": "positive_data_acceptance,use_after_free",
    "jsonapi": "positive_data_acceptance",
}
SCHEMATHESIS = str(Path(sys.executable).with_name("schemathesis"))


@dataclass(frozen=True)
class Run:
    """One schemathesis run: which document, as whom, how much."""

    name: str  # "plain" or "jsonapi": the document /api/schema/<name>, the User-Agent's suffix
    base_url: str
    secret: str
    examples: int
    seconds: int
    seed: int

    @property
    def agent(self) -> str:
        return f"schemathesis-{self.name}"

    def command(self, report: Path) -> list[str]:
        return [
            SCHEMATHESIS,
            "run",
            f"{self.base_url}/api/schema/{self.name}",
            "--header",
            f"Authorization: Bearer {self.secret}",
            "--header",
            f"User-Agent: {self.agent}",
            "--checks",
            "all",
            "--exclude-checks",
            EXCLUDED_CHECKS[self.name],
            "--phases",
            PHASES,
            "--max-examples",
            str(self.examples),
            "--max-time",
            str(self.seconds),
            "--seed",
            str(self.seed),
            # NUL is refused everywhere (giftcards.input_guard), as the documents say.
            "--generation-allow-x00",
            "false",
            # One worker: on Python 3.11 its threads can trip over each other in `ast` (an
            # "AST constructor recursion depth mismatch" inside schemathesis, not the server).
            "--workers",
            "1",
            "--no-color",
            "--report",
            "json",
            "--report-json-path",
            str(report),
        ]

    def start(self, out: Path) -> subprocess.Popen:
        """Runs in `out` (schemathesis keeps a cache folder where it runs); its output goes to
        out/schemathesis-<name>.log and its report to out/schemathesis-<name>.json."""
        out.mkdir(parents=True, exist_ok=True)
        self.report_path(out).unlink(missing_ok=True)
        log = self.log_path(out).open("wb")
        return subprocess.Popen(
            self.command(self.report_path(out)), cwd=out, stdout=log, stderr=subprocess.STDOUT
        )

    def log_path(self, out: Path) -> Path:
        return out / f"schemathesis-{self.name}.log"

    def report_path(self, out: Path) -> Path:
        return out / f"schemathesis-{self.name}.json"


@dataclass(frozen=True)
class Verdict:
    test_cases: int
    failures: list
    errors: list
    exit_code: int | None

    @property
    def clean(self) -> bool:
        return self.exit_code == 0 and not self.failures and not self.errors

    def summary(self) -> str:
        return (
            f"{self.test_cases} test cases, {len(self.failures)} failures, "
            f"{len(self.errors)} errors, exit code {self.exit_code}"
        )


def verdict(report: Path) -> Verdict:
    if not report.exists():
        return Verdict(0, [], ["no report: schemathesis did not finish"], None)
    found = json.loads(report.read_text())
    generated = (found.get("test_cases") or {}).get("generated", 0)
    failures, errors = found.get("failures") or [], found.get("errors") or []
    return Verdict(generated, failures, errors, found.get("exit_code"))
