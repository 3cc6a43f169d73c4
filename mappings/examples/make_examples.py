# ruff: noqa: E501, SIM905  (embedded XML keeps export-length lines; the header is written as one line)
"""Write the example exports in this folder (run: python mappings/examples/make_examples.py).

Synthetic data only (Tenor-style identities). The examples go beyond the shared samples:
several cases per file, rows of a case not adjacent, co-debtors, a foreign address,
interest series, corrections (nedskrivinger), a person as creditor, a rettsforlik, quoted
`;` and line breaks, and both CSV encodings (Windows-1252 CRLF, UTF-8 with BOM and LF).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

HERE = Path(__file__).resolve().parent

HEADER = (
    "SAKSNR;BEGJ_DATO;BEGJ_TYPE;UNDERSKRIFT;INNS_ORGNR;INNS_NAVN;INNS_ADR;INNS_POSTNR;INNS_STED;"
    "INNS_KOMNR;BEVILLINGSHAVER;SAKSBEHANDLER;SB_EPOST;SB_TLF;KRED_TYPE;KRED_ID;KRED_NAVN;"
    "KRED_FODT;KRED_ADR;KRED_POSTNR;KRED_STED;KRED_KOMNR;SKY_TYPE;SKY_ID;SKY_NAVN;SKY_FODT;"
    "SKY_ADR;SKY_POSTNR;SKY_STED;SKY_KOMNR;SKY_LAND;SKY2_ID;SKY2_NAVN;SKY2_FODT;SKY2_ADR;"
    "SKY2_POSTNR;SKY2_STED;SKY2_KOMNR;KONTONR;KID;BET_MOTTAKER;BANK;GRL_NR;GRL_ART;GRL_DATO;"
    "GRL_BETEGNELSE;GRL_FIL;MEDD_GRUNNLAG;MEDD_FORHOLD;MEDD_PAASTAND;MEDD_FORLIKSRAAD;"
    "MEDD_FRAVAERSDOM;MEDD_FORSENDELSE;DOM_FRIST;DOM_FORKYNT;VARSEL_DATO;VARSEL_FIL;UNNLAT_VARSEL;"
    "KRAV_REF;KRAV_ART;KRAV_TEKST;FORFALL;OPPR_BELOP;REST_BELOP;DEKN_PRIO;SAK_PRIO;GJELDER_KRAV;"
    "RENTE_FRA;RENTE_TIL;RENTE_GRUNNLAG;RENTE_SATS;FREMT_RENTE_PRIO;INNBETALINGER;NEDSKRIVINGER;"
    "BETOPPF_BREVDATO;BETOPPF_FRIST;BETOPPF_FIL"
).split(";")

AGENCY = {
    "UNDERSKRIFT": "Anna Norman", "INNS_ORGNR": "312597772",
    "INNS_NAVN": "UTROLIG ESTETISK TIGER AS", "INNS_ADR": "Hallagerstrand 54",
    "INNS_POSTNR": "1333", "INNS_STED": "KOLSÅS", "INNS_KOMNR": "3201",
    "BEVILLINGSHAVER": "Anna Marie Norman", "SAKSBEHANDLER": "Ola Eriksen",
    "SB_EPOST": "saksbehandler@tiger.example", "SB_TLF": "96673775",
}  # fmt: skip

# Case E-1: FAKTURA, debtor + co-debtor, payments and a correction, forsinkelsesrente.
E1 = {
    **AGENCY, "SAKSNR": "EX-2025-1001", "BEGJ_DATO": "03.11.2025", "BEGJ_TYPE": "UF",
    "KRED_TYPE": "O", "KRED_ID": "311758489", "KRED_NAVN": "UPERSONLIG FRISK TIGER AS",
    "KRED_ADR": "Nattlandsåsen 2", "KRED_POSTNR": "5231", "KRED_STED": "PARADIS",
    "KRED_KOMNR": "4601", "SKY_TYPE": "P", "SKY_ID": "29887847396", "SKY_NAVN": "MERR, RIMELIG",
    "SKY_FODT": "29.08.1978", "SKY_ADR": "Kannikgata 32", "SKY_POSTNR": "1103",
    "SKY_STED": "OSLO", "SKY_KOMNR": "0301", "SKY_LAND": "NO", "SKY2_ID": "05818004402",
    "SKY2_NAVN": "MERR, SKJØNN ÆRLIG", "SKY2_FODT": "05.01.1980", "SKY2_ADR": "Kannikgata 32",
    "SKY2_POSTNR": "1103", "SKY2_STED": "OSLO", "SKY2_KOMNR": "0301",
    "KONTONR": "0944.82.24632", "KID": "3878090814", "BET_MOTTAKER": "312597772",
    "BANK": "Nordea Bank", "GRL_NR": "F-77001", "GRL_ART": "FAKTURA", "GRL_DATO": "02.03.2025",
    "GRL_BETEGNELSE": "Faktura 77001", "GRL_FIL": "F-77001_tvangsgrunnlag.pdf",
    "MEDD_GRUNNLAG": "Faktura; strøm og nettleie",
    "MEDD_FORHOLD": "Levert strøm jan–feb 2025.\nFakturaen er ikke betalt.",
    "MEDD_PAASTAND": "Saksøkte dømmes til å betale kr 8 400,00 med tillegg av forsinkelsesrente.",
    "MEDD_FORLIKSRAAD": "J", "MEDD_FRAVAERSDOM": "J", "MEDD_FORSENDELSE": "digipost",
    "VARSEL_DATO": "10.04.2025", "VARSEL_FIL": "F-77001_varsel.pdf",
}  # fmt: skip
E1_ROWS = [
    {**E1, "KRAV_REF": "77001", "KRAV_ART": "HK", "KRAV_TEKST": "Strøm", "FORFALL": "16.03.2025",
     "OPPR_BELOP": "8 400,00", "REST_BELOP": "7 150,00", "DEKN_PRIO": "e",
     "RENTE_SATS": "FORSINKELSE", "INNBETALINGER": "01.04.2025=1 000,00|02.05.2025=200,00",
     "NEDSKRIVINGER": "15.05.2025=50,00", "BETOPPF_BREVDATO": "20.03.2025",
     "BETOPPF_FRIST": "03.04.2025", "BETOPPF_FIL": "EX-2025-1001_betalingsoppfordring.pdf"},
    {**E1, "KRAV_REF": "77001-R1", "KRAV_ART": "RENTE", "KRAV_TEKST": "Forsinkelsesrente",
     "OPPR_BELOP": "310,45", "REST_BELOP": "310,45", "DEKN_PRIO": "e",
     "GJELDER_KRAV": "77001", "RENTE_FRA": "16.03.2025", "RENTE_TIL": "03.11.2025",
     "RENTE_GRUNNLAG": "7 150,00"},
]  # fmt: skip

# Case E-2: DOM, debtor abroad (Sweden), person creditor, an agreed-rate interest series.
E2 = {
    **AGENCY, "SAKSNR": "EX-2025-1002", "BEGJ_DATO": "03.11.2025", "BEGJ_TYPE": "U",
    "KRED_TYPE": "P", "KRED_ID": "44926701751", "KRED_NAVN": "LYSEGUL, HENSIKT",
    "KRED_FODT": "16.09.2006", "KRED_ADR": "Josefines gate 3D", "KRED_POSTNR": "0351",
    "KRED_STED": "OSLO", "KRED_KOMNR": "0301", "SKY_TYPE": "P", "SKY_ID": "05818004402",
    "SKY_NAVN": "MERR, SKJØNN", "SKY_FODT": "05.01.1980", "SKY_ADR": "Storgatan 12",
    "SKY_STED": "GÖTEBORG", "SKY_LAND": "SE", "KONTONR": "2702.30.97201", "KID": "",
    "BET_MOTTAKER": "313182495", "BANK": "DNB", "GRL_NR": "TR-2024-5512", "GRL_ART": "DOM",
    "GRL_DATO": "18.04.2024", "GRL_BETEGNELSE": "Dom Oslo tingrett 24-055120TVI-TOSL/02",
    "GRL_FIL": "TR-2024-5512_dom.pdf", "DOM_FRIST": "02.05.2024", "DOM_FORKYNT": "22.04.2024",
}  # fmt: skip
E2_ROWS = [
    {**E2, "KRAV_REF": "5512", "KRAV_ART": "HK", "KRAV_TEKST": "Privat lån",
     "FORFALL": "15.01.2023", "OPPR_BELOP": "120 000,00", "REST_BELOP": "100 000,00",
     "DEKN_PRIO": "e", "SAK_PRIO": "1", "RENTE_SATS": "12,5", "FREMT_RENTE_PRIO": "2",
     "INNBETALINGER": "01.03.2023=20 000,00"},
    {**E2, "KRAV_REF": "5512-R1", "KRAV_ART": "RENTE", "KRAV_TEKST": "Avtalt rente 2023",
     "OPPR_BELOP": "11 250,00", "REST_BELOP": "11 250,00", "DEKN_PRIO": "e", "SAK_PRIO": "3",
     "GJELDER_KRAV": "5512", "RENTE_FRA": "15.01.2023", "RENTE_TIL": "31.12.2023",
     "RENTE_GRUNNLAG": "100 000,00", "RENTE_SATS": "12,5"},
    {**E2, "KRAV_REF": "5512-R2", "KRAV_ART": "RENTE", "KRAV_TEKST": "Avtalt rente 2024–25",
     "OPPR_BELOP": "22 700,00", "REST_BELOP": "22 700,00", "DEKN_PRIO": "e", "SAK_PRIO": "4",
     "GJELDER_KRAV": "5512", "RENTE_FRA": "01.01.2024", "RENTE_TIL": "03.11.2025",
     "RENTE_GRUNNLAG": "100 000,00", "RENTE_SATS": "12,5"},
    {**E2, "KRAV_REF": "5512-S1", "KRAV_ART": "TIDL", "KRAV_TEKST": "Sakskostnader",
     "FORFALL": "02.05.2024", "OPPR_BELOP": "3 150,00", "REST_BELOP": "3 150,00",
     "DEKN_PRIO": "e", "SAK_PRIO": "5", "GJELDER_KRAV": "5512"},
]  # fmt: skip

# Case E-3: rettsforlik with a correction of the amount and an organisation debtor.
E3 = {
    **AGENCY, "SAKSNR": "EX-2025-1003", "BEGJ_DATO": "03.11.2025", "BEGJ_TYPE": "U",
    "KRED_TYPE": "O", "KRED_ID": "313182495", "KRED_NAVN": "SMUL FLAT TIGER AS",
    "KRED_ADR": "Våganeset 40C", "KRED_POSTNR": "5106", "KRED_STED": "ØVRE ERVIK",
    "KRED_KOMNR": "4601", "SKY_TYPE": "P", "SKY_ID": "44926701751", "SKY_NAVN": "LYSEGUL, HENSIKT",
    "SKY_FODT": "16.09.2006", "SKY_ADR": "Josefines gate 3D", "SKY_POSTNR": "0351",
    "SKY_STED": "OSLO", "SKY_KOMNR": "0301", "KONTONR": "2702.30.97201", "KID": "1586382226",
    "BET_MOTTAKER": "313182495", "BANK": "DNB", "GRL_NR": "FL-2025-12", "GRL_ART": "FORLIK",
    "GRL_DATO": "10.02.2025", "GRL_BETEGNELSE": "Rettsforlik Oslo forliksråd 25-012",
    "GRL_FIL": "FL-2025-12_forlik.pdf", "DOM_FRIST": "24.02.2025", "DOM_FORKYNT": "10.02.2025",
}  # fmt: skip
E3_ROWS = [
    {**E3, "KRAV_REF": "FL12", "KRAV_ART": "HK", "KRAV_TEKST": "Husleie", "FORFALL": "01.01.2025",
     "OPPR_BELOP": "24 000,00", "REST_BELOP": "21 500,00", "DEKN_PRIO": "e",
     "RENTE_SATS": "FORSINKELSE", "NEDSKRIVINGER": "01.03.2025=2 000,00|01.04.2025=500,00"},
]  # fmt: skip

# Three Sak: co-debtors and a Nedskriving; a debtor abroad with a person creditor; a
# rettsforlik. ISO-8859-1, with a character outside it written as a character reference.
XML = """<?xml version="1.0" encoding="ISO-8859-1"?>
<in:Utleggsbatch xmlns:in="urn:no:inkassonett:eksport:3" produsert="2025-11-03T02:00:00">
  <in:Innsender orgnr="312597772">
    <in:Navn>UTROLIG ESTETISK TIGER AS</in:Navn>
    <in:Adresse postnr="1333" sted="KOLSÅS" kommune="3201">Hallagerstrand 54</in:Adresse>
    <in:Bevillingshaver fornavn="Anna" etternavn="Norman"/>
  </in:Innsender>
  <in:Sak saksnr="EX-2025-3001" begjaert="2025-11-03" forliksklage="true">
    <in:Underskrift>Anna Norman</in:Underskrift>
    <in:Saksbehandler epost="saksbehandler@tiger.example" telefon="96673775">Ola Eriksen</in:Saksbehandler>
    <in:Kreditor type="organisasjon" orgnr="311758489">
      <in:Navn>UPERSONLIG FRISK TIGER AS</in:Navn>
      <in:Adresse postnr="5231" sted="PARADIS" kommune="4601">Nattlandsåsen 2</in:Adresse>
    </in:Kreditor>
    <in:Skyldner type="person" fnr="29887847396" fodt="1978-08-29">
      <in:Navn fornavn="RIMELIG" etternavn="MERR"/>
      <in:Adresse postnr="1103" sted="OSLO" kommune="0301">Kannikgata 32</in:Adresse>
    </in:Skyldner>
    <in:Skyldner type="person" fnr="05818004402" fodt="1980-01-05">
      <in:Navn fornavn="SKJØNN" mellomnavn="ÆRLIG" etternavn="MERR"/>
      <in:Adresse postnr="1103" sted="OSLO" kommune="0301">Kannikgata 32</in:Adresse>
    </in:Skyldner>
    <in:Betaling konto="09448224632" kid="3878090814" mottaker="312597772" bank="Nordea Bank"/>
    <in:Grunnlag nr="S-3001" art="FAKTURA" dato="2025-03-02" dokument="S-3001_tvangsgrunnlag.pdf">
      <in:Betegnelse>Faktura 3001 – treningsavgift</in:Betegnelse>
      <in:Varsel dato="2025-04-10" paragraf="4-18" dokument="S-3001_varsel.pdf"/>
      <in:Meddelelse forliksraad="true" fravaersdom="true" sendtVia="altinn">
        <in:KravetsGrunnlag>Medlemskap</in:KravetsGrunnlag>
        <in:FaktiskeForhold>Treningsavgift for januar&#8211;mars 2025 er ikke betalt.</in:FaktiskeForhold>
        <in:Paastand>Saksøkte dømmes til å betale kr 1 797,00 med tillegg av forsinkelsesrente.</in:Paastand>
      </in:Meddelelse>
      <in:Krav ref="3001" art="HK" forfall="2025-03-16" dekning="e">
        <in:Tekst>Treningsavgift</in:Tekst>
        <in:Belop opprinnelig="1797.00" gjenstaaende="1597.00"/>
        <in:Renter forsinkelsesrente="true"/>
        <in:Innbetaling dato="2025-04-01" belop="100.00"/>
        <in:Nedskriving dato="2025-05-01" belop="100.00"/>
        <in:Betalingsoppfordring brevdato="2025-03-20" frist="2025-04-03" dokument="EX-2025-3001_betalingsoppfordring.pdf"/>
        <in:Krav ref="3001-R1" art="RENTE" dekning="e">
          <in:Tekst>Forsinkelsesrente</in:Tekst>
          <in:Belop opprinnelig="77.12" gjenstaaende="77.12"/>
          <in:Renteperiode fra="2025-03-16" til="2025-11-03" grunnlag="1597.00"/>
        </in:Krav>
      </in:Krav>
    </in:Grunnlag>
  </in:Sak>
  <in:Sak saksnr="EX-2025-3002" begjaert="2025-11-03" forliksklage="false">
    <in:Underskrift>Anna Norman</in:Underskrift>
    <in:Saksbehandler epost="saksbehandler@tiger.example">Ola Eriksen</in:Saksbehandler>
    <in:Kreditor type="person" fnr="44926701751" fodt="2006-09-16">
      <in:Navn fornavn="HENSIKT" etternavn="LYSEGUL"/>
      <in:Adresse postnr="0351" sted="OSLO" kommune="0301">Josefines gate 3D</in:Adresse>
    </in:Kreditor>
    <in:Skyldner type="person" fnr="05818004402" fodt="1980-01-05">
      <in:Navn fornavn="SKJØNN" etternavn="MERR"/>
      <in:Utenlandsadresse sted="GÖTEBORG" land="SE">Storgatan 12</in:Utenlandsadresse>
    </in:Skyldner>
    <in:Betaling konto="27023097201" mottaker="313182495" bank="DNB"/>
    <in:Grunnlag nr="S-3002" art="FORLIK" dato="2025-02-10" dokument="S-3002_forlik.pdf">
      <in:Betegnelse>Rettsforlik Oslo forliksråd 25-013</in:Betegnelse>
      <in:Dom oppfyllelsesfrist="2025-02-24" forkynt="2025-02-10"/>
      <in:Krav ref="3002" art="HK" forfall="2025-01-01" dekning="e" prioritet="1">
        <in:Tekst>Husleie</in:Tekst>
        <in:Belop opprinnelig="24000.00" gjenstaaende="21500.00"/>
        <in:Renter forsinkelsesrente="false" sats="8.5" fremtidigPrioritet="2"/>
        <in:Nedskriving dato="2025-03-01" belop="2000.00"/>
        <in:Nedskriving dato="2025-04-01" belop="500.00"/>
        <in:Krav ref="3002-R1" art="RENTE" dekning="e" prioritet="3">
          <in:Tekst>Avtalt rente</in:Tekst>
          <in:Belop opprinnelig="1520.40" gjenstaaende="1520.40"/>
          <in:Renteperiode fra="2025-01-01" til="2025-11-03" grunnlag="21500.00" sats="8.5"/>
        </in:Krav>
      </in:Krav>
    </in:Grunnlag>
  </in:Sak>
</in:Utleggsbatch>
"""


def csv_bytes(rows: list[dict[str, str]], encoding: str, newline: str, bom: bool) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, HEADER, delimiter=";", lineterminator=newline, restval="")
    writer.writeheader()
    writer.writerows(rows)
    data = out.getvalue().encode(encoding)
    return (b"\xef\xbb\xbf" if bom else b"") + data


def tiny_pdf(title: str) -> bytes:
    """A valid one-page PDF saying `title` (correct xref offsets)."""
    stream = f"BT /F1 12 Tf 72 720 Td ({title}) Tj ET".encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


# -- The toolchain examples (issue 14): a header/detail file, a fixed-width mainframe
# export and a wide one-row-per-case CSV, each mapped by the language alone
# (hd-records.yaml, fw-fixed.yaml, wide-krav.yaml), with expected JSON in expected/.

HD = """\
H;312597772;UTROLIG ESTETISK TIGER AS;Hallagerstrand 54;1333;KOLSÅS;3201;Anna Norman;Anna Marie Norman;20251105
S;HD-2025-01;05.11.2025;313182495;SMUL FLAT TIGER AS;Våganeset 40C;5106;ØVRE ERVIK;4601;27023097201;1586382226
G;DOM;TR-25-1001;10.02.2025;Dom Oslo tingrett 25-1001;24.02.2025;HD-2025-01_dom.pdf
D;44926701751;LYSEGUL, HENSIKT;16.09.2006;Josefines gate 3D;0351;OSLO;0301
K;HD1-1;Husleie januar;01.01.2025;12 000,00;10 500,00
K;HD1-2;Husleie februar;01.02.2025;12 000,00;12 000,00
X;kommentar som ikke mappes
S;HD-2025-02;05.11.2025;311758489;UPERSONLIG FRISK TIGER AS;Nattlandsåsen 2;5231;PARADIS;4601;09448224632;3878090814
G;FORLIK;FR-25-0042;03.03.2025;Rettsforlik Bergen forliksråd 25-0042;17.03.2025;HD-2025-02_forlik.pdf
D;29887847396;MERR, RIMELIG;29.08.1978;Kannikgata 32;1103;OSLO;0301
K;HD2-1;Vedlikehold;15.01.2025;3 250,50;3 250,50
T;2
"""


def fixed_line(fields: list[tuple[int, str]], width: int = 120) -> str:
    """A fixed-width record: each (start, text) written at its 1-based position."""
    line = [" "] * width
    for start, text in fields:
        line[start - 1 : start - 1 + len(text)] = text
    return "".join(line)


def fixed_bytes() -> bytes:
    """cp865 (IBM Nordic), CRLF, 120 columns; amounts in øre with overpunched signs."""
    head = [(1, "01"), (3, "312597772"), (12, "UTROLIG ESTETISK TIGER AS"),
            (52, "Hallagerstrand 54"), (82, "1333"), (86, "KOLSÅS"), (106, "3201"),
            (110, "20251105")]  # fmt: skip
    cases = [
        ("FW000017", "313182495", "SMUL FLAT TIGER AS", "27023097201", "1586382226",
         ("100225", "240225", "FW000017_dom.pdf", "Dom Oslo tingrett 25-2002"),
         ("44926701751", "LYSEGUL", "HENSIKT", "060916", "Josefines gate 3D", "0351", "OSLO"),
         [("FW17-1", "010125", 2400000, 2150000), ("FW17-2", "010225", 98050, 98050)]),
        ("FW000018", "311758489", "UPERSONLIG FRISK TIGER AS", "09448224632", "3878090814",
         ("030325", "170325", "FW000018_dom.pdf", "Dom Bergen tingrett 25-0311"),
         ("29887847396", "MERR", "RIMELIG", "780829", "Kannikgata 32", "1103", "OSLO"),
         [("FW18-1", "150125", 500000, 450000)]),
    ]  # fmt: skip
    lines = [fixed_line(head)]
    for saksnr, orgnr, navn, konto, kid, dom, sky, krav in cases:
        lines.append(fixed_line([(1, "10"), (3, saksnr), (11, orgnr), (20, navn),
                                 (60, konto), (71, kid), (81, "Anna Norman")]))  # fmt: skip
        lines.append(fixed_line([(1, "15"), (3, dom[0]), (9, dom[1]), (15, dom[2]),
                                 (45, dom[3])]))  # fmt: skip
        lines.append(fixed_line([(1, "20"), (3, sky[0]), (14, sky[1]), (34, sky[2]),
                                 (54, sky[3]), (60, sky[4]), (90, sky[5]), (94, sky[6])]))  # fmt: skip
        for ref, forfall, oppr, rest in krav:
            lines.append(fixed_line([(1, "30"), (3, ref), (13, forfall),
                                     (19, f"{oppr:011d}"), (30, _overpunch(rest))]))  # fmt: skip
    lines.append(fixed_line([(1, "99"), (3, f"{len(cases):06d}")]))
    return ("\r\n".join(lines) + "\r\n").encode("cp865")


def _overpunch(oere: int) -> str:
    """COBOL signed zoned decimal, 11 digits: the last digit carries the sign."""
    digits = f"{abs(oere):011d}"
    signs = "{ABCDEFGHI" if oere >= 0 else "}JKLMNOPQR"
    return digits[:-1] + signs[int(digits[-1])]


WIDE_HEADER = (
    "SAK,DATO,SIGNATUR,KREDITOR_ORGNR,KREDITOR,SKYLDNER_FNR,SKYLDNER_FORNAVN,"
    "SKYLDNER_ETTERNAVN,SKYLDNER_FODT,SKYLDNER_ADRESSE,SKYLDNER_POSTNR,SKYLDNER_STED,"
    "UTLAND_LAND,UTLAND_STED,DOM_TYPE,DOM_REF,DOM_DATO,DOM_FRIST,DOM_NAVN,DOM_FIL,KONTO,KID,"
    + ",".join(f"KRAV{n}_TYPE,KRAV{n}_REF,KRAV{n}_TEKST,KRAV{n}_FORFALL,KRAV{n}_OPPR,KRAV{n}_REST"
               for n in range(1, 6))
)  # fmt: skip
WIDE_ROWS = [
    ["W-501", "2025-11-05", "Anna Norman", "313182495", "SMUL FLAT TIGER AS", "44926701751",
     "HENSIKT", "LYSEGUL", "2006-09-16", "Josefines gate 3D", "0351", "OSLO", "", "",
     "D", "TR-25-501", "2025-02-10", "2025-02-24", "Dom Oslo tingrett 25-501", "W-501_dom.pdf",
     "27023097201", "1586382226",
     "H", "W501-1", "Leie januar", "2025-01-01", "12000.00", "10500.00",
     "H", "W501-2", "Leie februar", "2025-02-01", "12000.00", "12000.00",
     "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", ""],
    ["W-502", "2025-11-05", "Anna Norman", "311758489", "UPERSONLIG FRISK TIGER AS",
     "29887847396", "RIMELIG", "MERR", "1978-08-29", "Storgatan 1", "", "STOCKHOLM", "SE",
     "STOCKHOLM", "F", "FR-25-77", "2025-03-03", "2025-03-17", "Rettsforlik Oslo forliksråd 25-77",
     "W-502_forlik.pdf", "09448224632", "3878090814",
     "H", "W502-1", "Varekjøp", "2025-01-15", "1250.75", "1250.75",
     "", "", "", "", "", "",
     "H", "W502-3", "Varekjøp mars", "2025-03-15", "480.00", "480.00",
     "", "", "", "", "", "", "", "", "", "", "", ""],
]  # fmt: skip


def wide_bytes() -> bytes:
    """UTF-8, LF, comma-separated, one row per case, claims in KRAV1…KRAV5 column groups."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=",", lineterminator="\n")
    writer.writerow(WIDE_HEADER.split(","))
    writer.writerows(WIDE_ROWS)
    return out.getvalue().encode("utf-8")


def main() -> None:
    # cp1252 + CRLF, rows of E-1 and E-2 interleaved (a case's rows are not adjacent).
    mixed = [E1_ROWS[0], E2_ROWS[0], E2_ROWS[1], E1_ROWS[1], E2_ROWS[2], E2_ROWS[3]]
    (HERE / "utlegg_20251103_020000.csv").write_bytes(csv_bytes(mixed, "cp1252", "\r\n", False))
    # UTF-8 with BOM + LF (the 2025 upgrade), one more case.
    (HERE / "utlegg_20251104_020000.csv").write_bytes(csv_bytes(E3_ROWS, "utf-8", "\n", True))
    xml = XML.encode("iso-8859-1", errors="xmlcharrefreplace")
    (HERE / "inkassonett_20251103.xml").write_bytes(xml)
    files = {r[k] for r in E1_ROWS + E2_ROWS + E3_ROWS for k in ("GRL_FIL", "VARSEL_FIL",
             "BETOPPF_FIL") if r.get(k)}  # fmt: skip
    files |= {"S-3001_tvangsgrunnlag.pdf", "S-3001_varsel.pdf", "S-3002_forlik.pdf",
              "EX-2025-3001_betalingsoppfordring.pdf"}  # fmt: skip
    (HERE / "hd_20251105.txt").write_bytes(HD.replace("\n", "\r\n").encode("cp1252"))
    (HERE / "fw_20251105.dat").write_bytes(fixed_bytes())
    (HERE / "wide_20251105.csv").write_bytes(wide_bytes())
    files |= {"HD-2025-01_dom.pdf", "HD-2025-02_forlik.pdf", "FW000017_dom.pdf",
              "FW000018_dom.pdf", "W-501_dom.pdf", "W-502_forlik.pdf"}  # fmt: skip
    for name in sorted(files):
        (HERE / name).write_bytes(tiny_pdf(name))


if __name__ == "__main__":
    main()
