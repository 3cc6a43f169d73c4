"""The rule catalogue: the server's 72 documented rules plus our own codes.

Texts are copied from the "Feilkoder" table of Skatteetaten's ELAN documentation as of
model 2.0 (api-dokumentasjon `docs/api/utleggsbegjaering.md` @ 4cec4a7): title,
description (beskrivelse) and deviation text (avvikstekst) with its placeholders.
Obvious typos in the texts are kept: the sandbox must answer like the server.
"""

from __future__ import annotations

from utlegg_gateway.model import MODEL_CODES
from utlegg_gateway.provning._english import ENGLISH, ENGLISH_VARIANTS
from utlegg_gateway.provning._types import RuleInfo

__all__ = ["NOT_DECIDABLE_RULES", "OWN_CODES", "RULES", "SERVER_ONLY_RULES"]

# Rules that need state only the server has: registers, earlier submissions, uploads.
SERVER_ONLY_RULES: frozenset[str] = frozenset(
    {
        "DUPLIKAT_INNSENDING",
        "ER_IKKE_HOVEDENHET",
        "SAKSOEKT_ER_ENK",
        "SAKSOEKT_ER_IKKE_HOVEDENHET",
        "SAKSOEKT_GAMMELT_REGELVERK",
        "SAKSOEKT_MANGLER_I_REGISTERET",
        "SAKSOKER_ER_ENK",
        "UAVKLART_STATUS",
        "UGYLDIG_STATUS",
        "VEDLEGG_SKAL_HA_REFERANSE_TIL_BEGJAERINGEN",
        "VEDLEGG_SKAL_IKKE_HA_FEILET",
        "VEDLEGG_SKAL_VAERE_TILGJENGELIG",
        "VEDLEGG_SKAL_VAERE_VIRUSSJEKKET_VALIDERT_OG_KONVERTERT",
    }
)

# Rules whose condition is not in the payload nor documented precisely enough to decide:
# when tvangsfullbyrdelsesloven § 4-19 applies is a legal judgement about the case.
NOT_DECIDABLE_RULES: frozenset[str] = frozenset({"PARAGRAF_4_19_VARSEL_PAAKREVET"})

_I = "Ulovlig endring"

# name, changes only, since, title, description, avvikstekst (or variants)
_TABLE: tuple[tuple[str, bool, str, str, str, str | tuple[str, ...]], ...] = (
    ("DUPLIKAT_INNSENDING", False, "0.9", "Duplikat", "Duplikat innsending",
     "Sak med begjæringsdato %begjæringsdato og referanse %innsenderReferanse er allerede "
     "sendt inn"),
    ("DUPLIKAT_SAKSOEKER", False, "0.9", "Duplikat saksøker",
     "Det er ikke tillatt med duplikate saksøkere",
     "Det er ikke tillatt med duplikate saksøkere"),
    ("DUPLIKAT_SAKSOEKT", False, "0.9", "Duplikat saksøkt",
     "Det er ikke tillatt med duplikate saksøkte", "Det er ikke tillatt med duplikate saksøkte"),
    ("ER_IKKE_HOVEDENHET", False, "2.0", "Saksøker er ikke angitt med hovedenhet",
     "Kun hovedenhet har partsevne", ""),
    ("GEBYR_ELLER_SAKSKOSTNAD_HAR_ET_RELATERTKRAV_SOM_IKKE_ER_HOVEDSTOL", False, "1.0",
     "Uriktig eller manglende relasjon til hovedstol",
     "Gebyr eller sakskostnad kan kun relateres til hovedstol",
     "Kravet kan kun relateres til et krav av typen hovedstol."),
    ("HOVEDSTOL_SKAL_IKKE_HA_ET_RELATERT_KRAV", False, "1.0", "Hovedstol har et relatert krav",
     "En hovedstol skal ikke ha en relatert krav", "Hovedstol har et relatert krav"),
    ("INNBETALING_FRAM_I_TID", False, "2.0", "Dato for innbetaling er ugyldig",
     "Dato for innbetaling på krav kan ikke være frem i tid",
     "Dato for innbetaling på krav kan ikke være frem i tid"),
    ("INNSENDER_IKKE_IDENTIFISERBAR", False, "0.9", "Ukjent innsender",
     "Begjæringen må angi en innsender som kan identifiseres",
     "Innsender %innsender kan ikke identifiseres"),
    ("INNSENDER_IKKE_ORGANISASJON", False, "0.9", "Innsender er ikke en organisasjon",
     "Innsender må være en organisasjon", "Innsender %innsender er ikke en organisasjon"),
    ("INNSENDER_MANGLER", False, "0.9", "Mangler opplysninger om innsender",
     "Begjæringen må inneholde opplysning om innsender",
     "Begjæringen må inneholde opplysning om innsender"),
    ("INNSENDER_SAMSVARER_IKKE_MED_AUTENTISERING", False, "0.9",
     "Innsender er ikke autentisert korrekt", "Innsender må være autentisert",
     "Innsenders organisasjonsnummer %innsenderOrgnr, som angitt i begjæringen, avviker fra "
     "pålogget virksomhet, %påloggetOrgnr"),
    ("KAN_BEHANDLES_I_FORLIKSRAADET_PAAKREVET", False, "0.9",
     "Ønskes saken behandlet i Forliksrådet?",
     "Begjæringen skal opplyse om saksøker ønsker behandling i forliksrådet dersom saksøkte "
     "reiser innvendinger mot kravet",
     "Må angi hvorvidt saken ønskes behandlet i Forliksrådet"),
    ("KRAV_DUPLIKATE_REFERANSER", False, "0.9", "Krav har ikke unike kravreferanser",
     "Begjæringens krav må ha unike kravreferanser",
     "Det foreligger flere krav med kravreferanse %kravreferanse"),
    ("KRAV_IKKE_BENYTTET", False, "0.9",
     "Begjæringen inneholder krav som ikke er dokumentert gjennom tvangsgrunnlag",
     "Alle krav lagt til i begjæringen må dokumenteres",
     "Krav med kravreferanse %kravreferanse er ikke referert til fra begjaeringens "
     "tvangsgrunnlag"),
    ("KRAV_I_FLERE_TVANGSGRUNNLAG", False, "0.9", "Krav i flere tvangsgrunnlag",
     "Et krav kan ikke inngå i flere tvangsgrunnlag",
     "Et krav kan ikke inngå i flere tvangsgrunnlag"),
    ("KRAV_MANGLER_FORFALLSDATO", False, "Feb26", "Mangler forfallsdato",
     "Det må oppgis forfallsdato for kravet", "Det må oppgis forfallsdato for %forfallsdato"),
    ("KRAV_OPPGIS_UTEN_FORFALLSDATO", False, "Feb26", "Forfallsdato skal ikke oppgis",
     "Dette kravet oppgis uten forfallsdato", "%forfallsdato skal oppgis uten forfallsdato"),
    ("MAKS_EN_ADRESSE_AV_HVER_TYPE", False, "0.9", "Maks en adresse av hver type",
     "En aktør kan kun ha en adresse av hver type",
     "Man kan kun definere en adresse av type %ukjentBosted, postadresse, bopelsadresse, "
     "forretningsadresse, postboks"),
    ("MANGELFULLE_KONTOOPPLYSNINGER", False, "0.9", "Kontoopplysninger er mangelfulle",
     "Kontoopplysninger må være gyldige", "Konto må inneholde minst en verdi"),
    ("MANGLER_KRAV", False, "0.9", "Begjæringen refererer ikke til noen krav",
     "Det må finnes minimum ett krav", "Krav mangler"),
    ("MANGLER_OPPLYSNINGER_BEVILLINGSHAVER", False, "0.9",
     "Opplysninger om bevillingshaver mangler", "Inkassobyrået må oppgi en bevillingshaver",
     "Inkassobyrået %prosessfullmektig må oppgi bevillingshaver"),
    ("MANGLER_OPPLYSNINGER_OM_SAKSOEKER", False, "0.9", "Mangler opplysninger om saksøker",
     "Begjæring må inneholde et minimum av opplysninger for å identifisere saksøker",
     "Saksøker %saksøker må oppgis med en av: orgnummer og navn; navn og adresse; personlig "
     "identifikator, etternavn og fornavn; fødselsdato, etternavn og fornavn"),
    ("MANGLER_OPPLYSNINGER_OM_SAKSOEKT", False, "0.9", "Opplysninger om saksøkte mangler",
     "Begjæring må inneholde et minimum av opplysninger for å identifisere saksøkt",
     "Saksøkte %saksøkt må oppgis med en av: personlig identifikator, minst ett etternavn og "
     "fornavn; fødselsdato, etternavn, fornavn og adresse; orgnummer og navn"),
    ("MANGLER_OPPLYSNINGER_PROSESSFULLMEKTIG_PERSON", False, "0.9",
     "Opplysninger om prosessfullmektig mangler",
     "Begjæring skal inneholde prosessfullmektigens orgnummer eller navn og adresse dersom "
     "kreditoren benytter prosessfullmektig",
     "Prosessfullmektig %prosessfullmektig må oppgis med fullt navn og adresse"),
    ("PAASTAND_PAAKREVET", False, "0.9", "Påstand må fylles ut",
     "Påstand om resultat klager krever ved evt. dom",
     "Ved utlegg og forliksklage kombinert må påstand være utfylt"),
    ("PARAGRAF_4_18_VARSEL_PAAKREVET", False, "0.9", "§ 4-18 Varsel må fylles ut",
     'Feltet "Varsel" må fylles ut',
     "For særlige tvangsgrunnlag må varsel etter tvangsfullbyrdelsesloven § 4-18 eller "
     "begrunnelse for manglende varsel være utfylt"),
    ("PARAGRAF_4_19_VARSEL_PAAKREVET", False, "0.9", "§ 4-19 Varsel må fylles ut",
     'Feltet "Varsel" må fylles ut',
     "Varsel etter tvangsfullbyrdelsesloven § 4-19 eller begrunnelse for manglende varsel må "
     "være utfylt"),
    ("PRIORITET_MANGLER", False, "1.0", "Manglende angivelse av prioritet på kravet",
     "Hvis prioritet er angitt, så må det angis på alle.",
     "Hvis dere har angitt prioritet på en av kravspostene, må det også angis på de øvrige "
     "kravspostene"),
    ("PRIORITET_MANGLER_PÅ_RENTEOPPLYSNINGER", False, "1.0",
     "Prioritet angitt på ett krav men mangler på renter frem i tid",
     "Må melde inn prioritet på renter som skal påløpe senere på alle kravlinjer som er "
     "rentebærende, når det er satt prioritet på minst et annet krav (ref. regel I7). "
     "Kravlinje for kravlinje.",
     "Hvis dere har angitt prioritet på en av kravspostene så må det også angis prioritet på "
     "fremtidige renteposter"),
    ("PRIORITET_MANGLER_PÅ_RETTSGEBYR", False, "1.0", "Manglende angivelse av prioritet på kravet",
     "Gebyr: Må angi prioritet på rettsgebyret hvis saksøkte skal betale dette og det er satt "
     "prioritet på minst et annet krav (ref. regel I7)",
     "Hvis dere har angitt prioritet på en av kravspostene så må det også angis for "
     "rettsgebyret"),
    ("RELATERTE_KRAV_KAN_IKKE_PEKE_PÅ_SEG_SELV", False, "1.0",
     "Relaterte krav kan ikke peke på seg selv", "Relaterte krav kan ikke peke på seg selv",
     "Relaterte krav kan ikke peke på seg selv"),
    ("RELATERTE_KRAV_MÅ_FINNES", False, "0.9",
     "Relaterte krav må peke til krav i samme tvangsgrunnlag",
     "Et relatert krav må finnes i samme tvangsgrunnlag",
     "Relaterte krav må finnes i samme tvangsgrunnlag"),
    ("RELATERTE_KRAV_UGYLDIGE_KRAVREFERANSER", False, "0.9",
     "Relaterte krav peker på krav som ikke eksisterer", "Kravreferanser må være gyldige",
     "Krav med kravreferanse %hovedkravRef peker på relatert krav med kravreferanse "
     "%relatertKravRef som ikke eksisterer"),
    ("RENTEKRAV_KAN_BARE_RELATERES_TIL_ETT_KRAV", False, "2.0",
     "Rentekrav kan bare være relatert til ett krav",
     "Rentekrav kan bare være relatert til ett krav",
     "Rentekrav må være koblet til ett og bare ett relatert krav og det relaterte kravet må "
     "være hovedkrav, kostnad eller gebyr"),
    ("RENTEKRAV_KAN_IKKE_HA_RENTEKRAV", False, "1.0", "Uriktig relasjon til rentekravet",
     "Rentekrav kan ikke peke på annet rentekrav",
     "Et rentekrav kan ikke være relatert til et annet rentekrav. Oppgi korrekt relasjon til "
     "et rentebærende krav."),
    ("RENTEKRAV_KAN_IKKE_HA_RENTEOPPLYSNINGER", False, "2.0", "Rentekrav ka",
     "Rentekrav kan ikke ha tilknyttet renteopplysninger",
     "Rentekrav kan ikke ha renteopplysninger"),
    ("RENTEKRAV_PERIODE_MAA_HA_GYLDIG_PERIODE", False, "2.0",
     "Renteperiode må ha fradato før tildato og fradato før begjæringsdato",
     "Renteperiode må ha fradato før tildato og fradato før begjæringsdato",
     "Krav med innsenders referanse %innsenderskravreferasnse har ugyldig renteperiode"),
    ("RENTEKRAV_TILKNYTTET_IKKE_RENTEKRAV", False, "2.0", "Rentekrav for ikke rentekrav",
     "Rentekrav må være tilknyttet rentekrav",
     "Rentekrav kan kun tilknyttes krav med kravdetaljer rentekrav"),
    ("RENTE_MAA_HA_RELATERT_KRAV", False, "1.0", "Relasjon til rentebærende krav mangler",
     "Relasjon til rentebærende krav mangler",
     "Et rentekrav må ha et relatert krav slik at det relaterer seg til et annet krav som er "
     "rentebærende."),
    ("SAKSOEKERS_INNENLANDS_ADRESSE_UGYLDIG", False, "0.9",
     "Minimumsadresse innenlands for saksøker",
     "Begjæring må inneholde et minimum av opplysninger for adresser",
     "Saksøker %saksøker sin adresse innenlands må minimum inneholde adressetekst og "
     "postnummer"),
    ("SAKSOEKERS_UTENLANDS_ADRESSE_UGYLDIG", False, "0.9", "Minimumsadresse utland for saksøker",
     "Begjæring må inneholde et minimum av opplysninger for adresser",
     "Saksøker %saksøker sin adresse utenlands må minimum inneholde poststed og landkode"),
    ("SAKSOEKT_ER_ENK", False, "2.0", "Saksøkt er ENK",
     "Der saksøkt er et ENK skal innehaverens fødselsdato og privatadresse benyttes", ""),
    ("SAKSOEKT_ER_IKKE_HOVEDENHET", False, "2.0",
     "Saksøkt virksomhet er ikke angitt som hovedenhet", "Kun hovedenhet har partsevne", ""),
    ("SAKSOEKT_GAMMELT_REGELVERK", False, "1.0", "Saksøkt på gammelt regelverk",
     "Begjæringen angir saksøkt som må behandles etter gammelt regelverk",
     "Saksøkt med identifikator %identifikator må behandles etter gammelt regelverk, og må "
     "sendes inn via ELSA"),
    ("SAKSOEKT_MANGLER_I_REGISTERET", False, "2.0", "Saksoekt finnes ikke i registeret",
     "Saksoekt må finnes i partsregisteret", ""),
    ("SAKSOKER_ER_ENK", False, "2.0", "Saksøker er ENK",
     "Der saksøker er et ENK skal innehaverens fødselsdato og privatadresse benyttes", ""),
    ("SAKSØKTES_INNENLANDS_ADRESSE_UGYLDIG", False, "0.9",
     "Minimumsadresse innenlands for saksøkte",
     "Begjæring må inneholde et minimum av opplysninger for adresser",
     "Saksøkte %saksøkt sin adresse innenlands må minimum inneholde adressetekst og "
     "postnummer"),
    ("SAKSØKTES_UTENLANDS_ADRESSE_UGYLDIG", False, "0.9",
     "Saksøktes utenlandsadresse er ugyldig",
     "Begjæring må inneholde et minimum av opplysninger for adresser",
     "Saksøkte %saksøkt sin adresse utland må minimum inneholde poststed og landkode"),
    ("SAMME_SAKSOEKT_SOM_SAKSOEKER", False, "0.9", "Saksøker kan ikke være saksøkt",
     "Saksøker kan ikke være saksøkt", "Saksøker kan ikke være saksøkt"),
    ("TVANGSGRUNNLAG_UGYLDIGE_KRAVREFERANSER", False, "0.9",
     "Begjæringens tvangsgrunnlag peker på krav som ikke eksisterer",
     "Begjæringens tvangsgrunnlag på peke på krav",
     "Begjæringens tvangsgrunnlag med kravreferanse %kravreferanse peker på krav som ikke "
     "eksisterer"),
    ("UAVKLART_STATUS", True, "0.9", "Endringer på denne begjæringen er for tiden ikke tillatt",
     "For å kunne endre en begjæring må tidligere innsendinger være behandlet",
     "Sak med referanse %eksternSaksreferanse har eksisterende innsendinger som ikke er "
     "behandlet. Endringer er for tiden ikke tillatt, prøv igjen senere"),
    ("UGYLDIG_BELOEP", False, "0.9", "Ugyldig beløp", "Beløp har rett format",
     "Beløp %beløp er ugyldig. Beløp kan ha maks to desimaler og ikke være negativt"),
    ("UGYLDIG_KID", False, "0.9", "Ugyldig kid", "KID har rett format",
     "Kidnummer %kidnummer er feil"),
    ("UGYLDIG_KONTONR", False, "0.9", "Ugyldig kontonummer", "Kontonummer har rett format",
     "Mottakers kontonummer %kontonummer er feil"),
    ("UGYLDIG_ORGNR_PROSESSFULLMEKTIG", False, "0.9", "Prosessfullmektiges orgnummer er ugyldig",
     "Prosessfullmektig har gyldig orgnummer",
     "Prosessfullmektig %prosessfullmektig må oppgis med gyldig orgnummer for inkassobyrået"),
    ("UGYLDIG_RENTE", False, "0.9", "Ugyldig rente", "Rente har rett format",
     "Rente %rentesats er ugyldig. Rente kan ha maks to desimaler og ikke være negativt"),
    ("UGYLDIG_STATUS", True, "0.9", "Saken har en status der endringer ikke lenger er tillatt",
     "Ugyldig status",
     "Sak med referanse %eksternSaksreferanse har tilstand %tilstand. Endringer er ikke lenger "
     "tillatt"),
    ("UGYLDIG_VEDLEGG_BETALINGSOPPFORDRING", False, "0.9",
     "Betalingsoppfordring har vedlegg av feil type",
     "Betalingsoppfordring må ha vedlegg av korrekt type",
     "Vedlegg for betalingsoppfordring med filnavn %filnavn må være av type "
     "betalingsoppfordring"),
    ("UGYLDIG_VEDLEGG_FULLMAKT", False, "0.9", "Fullmakt har vedlegg av feil type",
     "Fullmakt må ha vedlegg av korrekt type",
     "Vedlegg for fullmakt med filnavn %filnavn må være av type fullmakt"),
    ("UGYLDIG_VEDLEGG_TRANSPORTERKLÆRING", False, "0.9",
     "Transporterklæring har vedlegg av feil type",
     "Transporterklæring må ha vedlegg av korrekt type",
     "Vedlegg for transporterklæring med filnavn %filnavn må være av type transporterklæring"),
    ("UGYLDIG_VEDLEGG_TVANGSGRUNNLAG", False, "0.9", "Tvangsgrunnlag har vedlegg av feil type",
     "Begjæringens tvangsgrunnlag må ha vedlegg av korrekt type",
     "Vedlegg for tvangsgrunnlag med betegnelse %betegnelse må være av type tvangsgrunnlag"),
    ("UGYLDIG_VEDLEGG_TVANGSKRAFTGRUNNLAG", False, "0.9",
     "Tvangskraftgrunnlag (varsel) har vedlegg av feil type",
     "Begjæringens tvangskraftgrunnlag (varsel) må ha vedlegg av korrekt type",
     "Vedlegg for tvangskraftgrunnlag med filnavn %filnavn må være av type "
     "tvangskraftgrunnlag"),
    ("ULOVLIG_ENDRING_BEGJAERINGSDATO", True, "0.9",
     "Det er ikke tillatt å endre begjæringens dato", _I, ""),
    ("ULOVLIG_ENDRING_INNSENDER", True, "0.9", "Det er ikke tillatt å endre innsender", _I, ""),
    ("ULOVLIG_ENDRING_SAKSOEKER", True, "2.0", "Det er ikke tillatt å endre saksøker", _I, ""),
    ("ULOVLIG_ENDRING_SAKSOEKT", True, "2.0",
     "Ny saksøkt kan ikke behandles etter nytt regelverk. Send inn korrigeringen på papir.",
     _I, ""),
    ("ULOVLIG_ENDRING_UNDERSKRIFT", True, "0.9", "Det er ikke tillatt å endre underskrift",
     _I, ""),
    ("VEDLEGG_SKAL_HA_REFERANSE_TIL_BEGJAERINGEN", False, "0.9",
     "Vedlegg referert til i begjæringen har er lastet opp med referanse til en annen "
     "begjæring",
     "Alle vedlegg knyttet til begjæringen skal ha referanse til begjæringen",
     "Vedlegg '%s' er lagret med referanse til en annen begjæring og kan ikke benyttes i denne "
     "begjæringen. Last opp vedlegg pånytt med referanse til '%s'"),
    ("VEDLEGG_SKAL_HA_UUID", False, "0.9",
     "Vedlegg referert til i begjæringen har ikke fylt ut uuid",
     "Alle vedlegg knyttet til begjæringen skal ha utfylt uuid", "Vedlegg '%s' mangler uuid"),
    ("VEDLEGG_SKAL_IKKE_HA_FEILET", False, "0.9",
     "Vedlegg referert til i begjæringen har feilet og kan ikke benyttes",
     "Alle vedlegg knyttet til begjæringen skal være uten feil",
     ("Vedlegg '%s' er er forsøkt validert, men valideringen feilet pga teknisk feil. "
      "Vennligst forsøk å laste opp vedlegget på nytt, og hvis problemet vedvarer, kontakt "
      "support",
      "Vedlegg '%s' feilet ved forsøk på konvertering til gyldig pdf.",
      "Vedlegg '%s' lar seg ikke konvertere til gyldig pdf.")),
    ("VEDLEGG_SKAL_VAERE_TILGJENGELIG", False, "0.9",
     "Vedlegg referert til i begjæringen er ikke tilgjengelig og kan ikke benyttes",
     "Alle vedlegg knyttet til begjæringen skal være tilgjengelig",
     ("Vedlegg '%s' med id '%s' finnes ikke.", "Vedlegg '%s' er slettet.",
      "Vedlegg '%s' er kassert.", "Vedlegg '%s' inneholder virus.")),
    ("VEDLEGG_SKAL_VAERE_VIRUSSJEKKET_VALIDERT_OG_KONVERTERT", False, "0.9",
     "Vedlegg referert til i begjæringen er ikke klar til å kunne benyttes enda",
     "Alle vedlegg knyttet til begjæringen skal være virussjekket, validert og konvertert",
     ("Vedlegg '%s' er ikke virussjekket.", "Vedlegg '%s' er ikke konvertert til gyldig pdf.",
      "Vedlegg '%s' er ikke validert.")),
)  # fmt: skip

# Our own codes for problems the server has no published rule name for (docs/rules.md).
OWN_CODES: dict[str, tuple[str, str]] = {
    **{code: (text, text) for code, text in MODEL_CODES.items()},
    "UGYLDIG_FOEDSELSNUMMER": (
        "Ugyldig fødselsnummer eller D-nummer",
        "%identifikator er ikke et gyldig fødselsnummer eller D-nummer: %grunn",
    ),
    "UGYLDIG_ORGANISASJONSNUMMER": (
        "Ugyldig organisasjonsnummer",
        "%identifikator er ikke et gyldig organisasjonsnummer: %grunn",
    ),
    "UGYLDIG_IDENTIFIKATOR": (
        "Norsk identifikator må være fødselsnummer, D-nummer eller organisasjonsnummer",
        "%identifikator er verken et fødselsnummer/D-nummer (11 siffer) eller et "
        "organisasjonsnummer (9 siffer)",
    ),
    "SYNTETISK_IDENTITET_I_PROD": (
        "Syntetisk testidentitet brukt i produksjon",
        "%identifikator er en syntetisk testidentitet (Tenor) og kan ikke brukes i "
        "produksjonsmiljøet",
    ),
    "UGYLDIG_TEGN": (
        "Ugyldig tegn i feltet",
        "Feltet %felt inneholder tegnet %tegn, som ikke er tillatt her (kontrolltegn, "
        "usynlige tegn eller retningsmarkører)",
    ),
    "UPLAUSIBEL_DATO": (
        "Usannsynlig dato",
        "Datoen %dato i feltet %felt er usannsynlig (%grunn)",
    ),
    "UPLAUSIBEL_LENGDE": (
        "Usannsynlig lang tekst",
        "Feltet %felt har %lengde tegn; mer enn %maks er ikke sannsynlig",
    ),
    "VEDLEGG_UGYLDIG_UUID": (
        "Vedleggets uuid er ikke en UUID",
        "Vedlegg '%filnavn' har uuid '%uuid', som ikke er en gyldig UUID",
    ),
}


def _build() -> dict[str, RuleInfo]:
    out: dict[str, RuleInfo] = {}
    for name, changes_only, since, title, description, text in _TABLE:
        variants = text if isinstance(text, tuple) else ()
        message = text[0] if isinstance(text, tuple) else (text or title)
        out[name] = RuleInfo(
            name=name,
            message=message,
            description=description,
            since=since,
            changes_only=changes_only,
            server_only=name in SERVER_ONLY_RULES,
            title=title,
            variants=variants,
            local=name not in SERVER_ONLY_RULES and name not in NOT_DECIDABLE_RULES,
            english=ENGLISH[name],
            english_variants=ENGLISH_VARIANTS.get(name, ()),
        )
    for code, (title, _server) in OWN_CODES.items():
        out[code] = RuleInfo(
            name=code,
            message=ENGLISH[code],
            description=title,
            since="own",
            title=title,
            english=ENGLISH[code],
        )
    return out


# Every documented rule and every own code: name -> RuleInfo.
RULES: dict[str, RuleInfo] = _build()
assert len(_TABLE) == 72, "the documentation lists 72 rules"
