"""The outbox: every file the gateway hands back appears atomically, never half-written.

Per input file `NAME` (see docs/architecture.md "Outbox formats"):

- `NAME.kvittering.json`: the receipt, one entry per case (status, eksternSaksreferanse,
  times, korrelasjonsid, every error with rule, message and source location);
- `NAME.kvittering.csv` / `NAME.kvittering.xml`: the same for legacy import, per inbox;
- `NAME.feil.json` + `NAME.feil.txt`: the file could not be read at all.

Writes go to a hidden temp name in the same folder, are fsynced, renamed with
`os.replace`, and the folder is fsynced (POSIX). Nothing in the outbox is overwritten: a
rewrite with identical bytes is a no-op (so a resumed run is idempotent); different
content for a name already used gets the next free number, `NAME.2.kvittering.json`.
"""

from utlegg_gateway.folders.outbox.formats import (
    CSV_COLUMNS,
    RECEIPT_XML_NAMESPACE,
    error_report_json,
    error_report_text,
    receipt_csv,
    receipt_csv_chunks,
    receipt_json,
    receipt_json_chunks,
    receipt_xml,
    receipt_xml_chunks,
)
from utlegg_gateway.folders.outbox.receipts import (
    RECEIPT_FORMAT_VERSION,
    CaseReceipt,
    CaseStatus,
    ErrorReport,
    Receipt,
    ReceiptError,
    build_error_report,
    build_receipt,
    case_receipt,
    error_from_gateway_error,
)
from utlegg_gateway.folders.outbox.writer import (
    safe_name,
    sweep_temp_files,
    write_atomic,
    write_error_report,
    write_receipt,
)

__all__ = [
    "CSV_COLUMNS",
    "RECEIPT_FORMAT_VERSION",
    "RECEIPT_XML_NAMESPACE",
    "CaseReceipt",
    "CaseStatus",
    "ErrorReport",
    "Receipt",
    "ReceiptError",
    "build_error_report",
    "build_receipt",
    "case_receipt",
    "error_from_gateway_error",
    "error_report_json",
    "error_report_text",
    "receipt_csv",
    "receipt_csv_chunks",
    "receipt_json",
    "receipt_json_chunks",
    "receipt_xml",
    "receipt_xml_chunks",
    "safe_name",
    "sweep_temp_files",
    "write_atomic",
    "write_error_report",
    "write_receipt",
]
