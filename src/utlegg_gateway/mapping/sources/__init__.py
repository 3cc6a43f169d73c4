"""Readers of source exports: CSV (standard library), XML (lxml, hardened, streaming) and
record-type / fixed-width files (header/detail layouts)."""

from __future__ import annotations

from utlegg_gateway.mapping.sources._csv import CsvCase, read_csv_cases
from utlegg_gateway.mapping.sources._records import RecordCase, RecordFile, read_record_file
from utlegg_gateway.mapping.sources._xml import XmlRecord, iter_xml_records

__all__ = [
    "CsvCase",
    "RecordCase",
    "RecordFile",
    "XmlRecord",
    "iter_xml_records",
    "read_csv_cases",
    "read_record_file",
]
