"""Produce one outbox file of every kind and format (the examples in docs/outbox/).

A small scripted run against the sandbox: the CSV sample (one case accepted, one whose
debtors are on the old rules goes to elsa/), an unreadable XML (error report), receipts
in JSON, CSV and XML, then the demo's follow-up act (status changes, a rettebrev).

    python -m tests._outbox_examples docs/outbox     # refresh the examples after review
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from tests.e2e._support import FORMATS, drop_attachments, drop_renamed
from utlegg_gateway.config import load_settings
from utlegg_gateway.demo import write_gateway_config
from utlegg_gateway.followup.demo import collect_followup
from utlegg_gateway.gateway.runner import run_once
from utlegg_gateway.sandbox import SandboxOptions, running_sandbox, write_credentials

MAPPINGS = Path(__file__).resolve().parents[1] / "mappings"
DEBTORS_311 = ("29887847396", "05818004402")  # both debtors of IB-2025-000311 (the sample)

# example name -> where in the outbox it comes from (a glob, relative to the outbox)
EXAMPLES = {
    "kvittering.json": "utlegg_20251001_020000.csv.kvittering.json",
    "kvittering.csv": "utlegg_20251001_020000.csv.kvittering.csv",
    "kvittering.xml": "utlegg_20251001_020000.csv.kvittering.xml",
    "feilrapport.json": "ugyldig.xml.feil.json",
    "feilrapport.txt": "ugyldig.xml.feil.txt",
    "statusendring.json": "status/IB-2025-000127.sakOpprettet.json",
    "statusendring.csv": "status/IB-2025-000127.sakOpprettet.csv",
    "statusendring.xml": "status/IB-2025-000127.sakOpprettet.xml",
    "melding.json": "meldinger/*.rettebrev.*.json",
    "melding.csv": "meldinger/*.rettebrev.*.csv",
    "melding.xml": "meldinger/*.rettebrev.*.xml",
    "ikke-sendt-til-elan.json": "elsa/IB-2025-000311.json",
}


def produce(root: Path) -> Path:
    """Run the scenario under `root`; returns its outbox folder."""
    credentials = write_credentials(root / "credentials")
    with running_sandbox(SandboxOptions(scanning_seconds=0.0), credentials=[credentials]) as sb:
        for ident in DEBTORS_311:
            sb.admin.add_old_rules_debtor(ident)
        config = write_gateway_config(
            root,
            sandbox=sb,
            credentials=credentials,
            inboxes={"csv-krav": ["csv-krav"], "xml-sak": ["xml-sak"]},
            mapping_dirs=[MAPPINGS],
            stable_seconds=0.05,
            receipt_formats=("json", "csv", "xml"),
        )
        drop_attachments("csv-krav", root / "inbox" / "csv-krav")
        drop_renamed(FORMATS["csv-krav"], root / "inbox" / "csv-krav")
        (root / "inbox" / "xml-sak" / "ugyldig.xml").write_bytes(b"<Utleggsbatch><Sak>")
        settings = load_settings(config, environ={})
        run_once(settings)
        collect_followup(settings, sb)
    return root / "outbox"


def example_sources(outbox: Path) -> dict[str, Path]:
    """Example name -> the produced file it is copied from."""
    out: dict[str, Path] = {}
    for name, pattern in EXAMPLES.items():
        hits = sorted(outbox.glob(pattern))
        if not hits:
            raise FileNotFoundError(f"the scenario wrote no {pattern} in {outbox}")
        out[name] = hits[0]
    return out


def main(target: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        sources = example_sources(produce(Path(tmp)))
        target.mkdir(parents=True, exist_ok=True)
        for name, source in sources.items():
            shutil.copyfile(source, target / name)
            print(f"{target / name}  <- {source.relative_to(tmp)}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/outbox"))
