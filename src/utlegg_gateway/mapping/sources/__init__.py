"""Readers of source exports: CSV (standard library) and XML (lxml, hardened, streaming)."""

from __future__ import annotations

from utlegg_gateway.mapping.sources._csv import CsvCase, read_csv_cases
from utlegg_gateway.mapping.sources._xml import XmlRecord, iter_xml_records

__all__ = ["CsvCase", "XmlRecord", "iter_xml_records", "read_csv_cases"]
