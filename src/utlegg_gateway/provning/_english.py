"""English texts of the rules: what the gateway itself says about a broken rule.

The catalogue (`_catalog.py`) keeps the server's Norwegian texts verbatim: the sandbox
answers with them and a finding carries them as `serverMessage`. These are the tool's
own lines, one per rule name (and per variant where the server has several), with the
same `%placeholder`s as the server's text so both are filled from the same values.
"""

from __future__ import annotations

__all__ = ["ENGLISH", "ENGLISH_VARIANTS"]

ENGLISH: dict[str, str] = {
    "DUPLIKAT_INNSENDING": "A case with begjaeringsdato %begjæringsdato and reference "
    "%innsenderReferanse has already been submitted",
    "DUPLIKAT_SAKSOEKER": "The same saksøker is given more than once",
    "DUPLIKAT_SAKSOEKT": "The same saksøkt is given more than once",
    "ER_IKKE_HOVEDENHET": "The saksøker is not a main entity (hovedenhet); only a main "
    "entity can be a party",
    "GEBYR_ELLER_SAKSKOSTNAD_HAR_ET_RELATERTKRAV_SOM_IKKE_ER_HOVEDSTOL": "A fee or legal "
    "cost claim can only be related to a claim of type hovedstol",
    "HOVEDSTOL_SKAL_IKKE_HA_ET_RELATERT_KRAV": "A hovedstol claim must not have a related claim",
    "INNBETALING_FRAM_I_TID": "The date of a payment on a claim is in the future",
    "INNSENDER_IKKE_IDENTIFISERBAR": "Innsender %innsender cannot be identified",
    "INNSENDER_IKKE_ORGANISASJON": "Innsender %innsender is not an organisation",
    "INNSENDER_MANGLER": "The begjæring names no innsender",
    "INNSENDER_SAMSVARER_IKKE_MED_AUTENTISERING": "The innsender's organisation number "
    "%innsenderOrgnr in the begjæring differs from the authenticated organisation "
    "%påloggetOrgnr",
    "KAN_BEHANDLES_I_FORLIKSRAADET_PAAKREVET": "State whether the case is to be heard by "
    "the conciliation board (Forliksrådet)",
    "KRAV_DUPLIKATE_REFERANSER": "Several claims have kravreferanse %kravreferanse",
    "KRAV_IKKE_BENYTTET": "The claim with kravreferanse %kravreferanse is not referred to "
    "by any tvangsgrunnlag",
    "KRAV_I_FLERE_TVANGSGRUNNLAG": "A claim is part of more than one tvangsgrunnlag",
    "KRAV_MANGLER_FORFALLSDATO": "A due date must be given for %forfallsdato",
    "KRAV_OPPGIS_UTEN_FORFALLSDATO": "%forfallsdato must be given without a due date",
    "MAKS_EN_ADRESSE_AV_HVER_TYPE": "An actor can have only one address of each type "
    "(%ukjentBosted, postadresse, bopelsadresse, forretningsadresse, postboks)",
    "MANGELFULLE_KONTOOPPLYSNINGER": "The account details need at least one value",
    "MANGLER_KRAV": "The begjæring has no claims",
    "MANGLER_OPPLYSNINGER_BEVILLINGSHAVER": "The debt collection agency "
    "%prosessfullmektig names no licence holder (bevillingshaver)",
    "MANGLER_OPPLYSNINGER_OM_SAKSOEKER": "Saksøker %saksøker needs one of: organisation "
    "number and name; name and address; personal identifier, surname and first name; "
    "date of birth, surname and first name",
    "MANGLER_OPPLYSNINGER_OM_SAKSOEKT": "Saksøkt %saksøkt needs one of: personal "
    "identifier, at least one surname and first name; date of birth, surname, first name "
    "and address; organisation number and name",
    "MANGLER_OPPLYSNINGER_PROSESSFULLMEKTIG_PERSON": "Prosessfullmektig "
    "%prosessfullmektig needs a full name and address",
    "PAASTAND_PAAKREVET": "A combined utlegg and conciliation complaint needs a claim (påstand)",
    "PARAGRAF_4_18_VARSEL_PAAKREVET": "A special tvangsgrunnlag needs a notice under "
    "tvangsfullbyrdelsesloven § 4-18 or the reason why none was given",
    "PARAGRAF_4_19_VARSEL_PAAKREVET": "A notice under tvangsfullbyrdelsesloven § 4-19 or "
    "the reason why none was given is required",
    "PRIORITET_MANGLER": "A priority is given on one claim line, so every claim line needs one",
    "PRIORITET_MANGLER_PÅ_RENTEOPPLYSNINGER": "A priority is given on one claim line, so "
    "future interest lines need one too",
    "PRIORITET_MANGLER_PÅ_RETTSGEBYR": "A priority is given on one claim line, so the "
    "court fee (rettsgebyr) needs one too",
    "RELATERTE_KRAV_KAN_IKKE_PEKE_PÅ_SEG_SELV": "A related claim cannot point to itself",
    "RELATERTE_KRAV_MÅ_FINNES": "A related claim must be in the same tvangsgrunnlag",
    "RELATERTE_KRAV_UGYLDIGE_KRAVREFERANSER": "The claim with kravreferanse "
    "%hovedkravRef points to a related claim %relatertKravRef that does not exist",
    "RENTEKRAV_KAN_BARE_RELATERES_TIL_ETT_KRAV": "An interest claim must be related to "
    "exactly one claim, of type hovedkrav, cost or fee",
    "RENTEKRAV_KAN_IKKE_HA_RENTEKRAV": "An interest claim cannot be related to another "
    "interest claim; relate it to an interest-bearing claim",
    "RENTEKRAV_KAN_IKKE_HA_RENTEOPPLYSNINGER": "An interest claim cannot have interest "
    "details (renteopplysninger)",
    "RENTEKRAV_PERIODE_MAA_HA_GYLDIG_PERIODE": "The claim with reference "
    "%innsenderskravreferasnse has an invalid interest period (from date must be before "
    "to date and before begjaeringsdato)",
    "RENTEKRAV_TILKNYTTET_IKKE_RENTEKRAV": "An interest claim can only be attached to a "
    "claim whose details are an interest claim",
    "RENTE_MAA_HA_RELATERT_KRAV": "An interest claim needs a related interest-bearing claim",
    "SAKSOEKERS_INNENLANDS_ADRESSE_UGYLDIG": "The domestic address of saksøker %saksøker "
    "needs at least an address text and a postcode",
    "SAKSOEKERS_UTENLANDS_ADRESSE_UGYLDIG": "The foreign address of saksøker %saksøker "
    "needs at least a town and a country code",
    "SAKSOEKT_ER_ENK": "The saksøkt is a sole proprietorship (ENK): use the owner's date "
    "of birth and private address",
    "SAKSOEKT_ER_IKKE_HOVEDENHET": "The saksøkt is not a main entity (hovedenhet); only a "
    "main entity can be a party",
    "SAKSOEKT_GAMMELT_REGELVERK": "Saksøkt %identifikator is handled under the old "
    "regulations and must be submitted through ELSA",
    "SAKSOEKT_MANGLER_I_REGISTERET": "The saksøkt is not in the party register",
    "SAKSOKER_ER_ENK": "The saksøker is a sole proprietorship (ENK): use the owner's date "
    "of birth and private address",
    "SAKSØKTES_INNENLANDS_ADRESSE_UGYLDIG": "The domestic address of saksøkt %saksøkt "
    "needs at least an address text and a postcode",
    "SAKSØKTES_UTENLANDS_ADRESSE_UGYLDIG": "The foreign address of saksøkt %saksøkt needs "
    "at least a town and a country code",
    "SAMME_SAKSOEKT_SOM_SAKSOEKER": "The saksøker cannot also be the saksøkt",
    "TVANGSGRUNNLAG_UGYLDIGE_KRAVREFERANSER": "The tvangsgrunnlag points to kravreferanse "
    "%kravreferanse, which does not exist",
    "UAVKLART_STATUS": "Case %eksternSaksreferanse has earlier submissions not yet "
    "processed; changes are not allowed now, try again later",
    "UGYLDIG_BELOEP": "Amount %beløp is invalid: at most two decimals and not negative",
    "UGYLDIG_KID": "KID number %kidnummer is invalid",
    "UGYLDIG_KONTONR": "The recipient's account number %kontonummer is invalid",
    "UGYLDIG_ORGNR_PROSESSFULLMEKTIG": "Prosessfullmektig %prosessfullmektig needs a "
    "valid organisation number for the debt collection agency",
    "UGYLDIG_RENTE": "Interest rate %rentesats is invalid: at most two decimals and not negative",
    "UGYLDIG_STATUS": "Case %eksternSaksreferanse has status %tilstand; changes are no "
    "longer allowed",
    "UGYLDIG_VEDLEGG_BETALINGSOPPFORDRING": "The attachment %filnavn for the payment "
    "demand must be of type betalingsoppfordring",
    "UGYLDIG_VEDLEGG_FULLMAKT": "The attachment %filnavn for the power of attorney must be "
    "of type fullmakt",
    "UGYLDIG_VEDLEGG_TRANSPORTERKLÆRING": "The attachment %filnavn for the assignment "
    "declaration must be of type transporterklæring",
    "UGYLDIG_VEDLEGG_TVANGSGRUNNLAG": "The attachment for tvangsgrunnlag %betegnelse must "
    "be of type tvangsgrunnlag",
    "UGYLDIG_VEDLEGG_TVANGSKRAFTGRUNNLAG": "The attachment %filnavn for the enforceability "
    "basis (notice) must be of type tvangskraftgrunnlag",
    "ULOVLIG_ENDRING_BEGJAERINGSDATO": "The begjaeringsdato cannot be changed",
    "ULOVLIG_ENDRING_INNSENDER": "The innsender cannot be changed",
    "ULOVLIG_ENDRING_SAKSOEKER": "The saksøker cannot be changed",
    "ULOVLIG_ENDRING_SAKSOEKT": "A new saksøkt cannot be handled under the new "
    "regulations; send the correction on paper",
    "ULOVLIG_ENDRING_UNDERSKRIFT": "The signature (underskrift) cannot be changed",
    "VEDLEGG_SKAL_HA_REFERANSE_TIL_BEGJAERINGEN": "Attachment '%s' is stored with a "
    "reference to another begjæring; upload it again with reference '%s'",
    "VEDLEGG_SKAL_HA_UUID": "Attachment '%s' has no uuid",
    "VEDLEGG_SKAL_IKKE_HA_FEILET": "Attachment '%s' could not be validated because of a "
    "technical error; upload it again and contact support if it persists",
    "VEDLEGG_SKAL_VAERE_TILGJENGELIG": "Attachment '%s' with id '%s' does not exist",
    "VEDLEGG_SKAL_VAERE_VIRUSSJEKKET_VALIDERT_OG_KONVERTERT": "Attachment '%s' has not "
    "been virus checked yet",
    # Our own codes (no server text).
    "MODELL_MANGLER_FELT": "A required field is missing",
    "MODELL_UKJENT_FELT": "The field is not in the model (probably a mistake in the mapping)",
    "MODELL_UGYLDIG_VERDI": "The value has the wrong type or format",
    "MODELL_UGYLDIG_KODE": "The value is not in the code list of the model version",
    "MODELL_VALG": "A choice (valgEgenskap) needs exactly one alternative",
    "MODELL_FELT_IKKE_I_VERSJON": "The field is not in the chosen model version",
    "MODELL_FELT_UTGAAR": "The field is deprecated and planned for removal in the next "
    "model version",
    "UGYLDIG_FOEDSELSNUMMER": "%identifikator is not a valid fødselsnummer or D-nummer: %grunn",
    "UGYLDIG_ORGANISASJONSNUMMER": "%identifikator is not a valid organisation number: %grunn",
    "UGYLDIG_IDENTIFIKATOR": "%identifikator is neither a fødselsnummer/D-nummer "
    "(11 digits) nor an organisation number (9 digits)",
    "SYNTETISK_IDENTITET_I_PROD": "%identifikator is a synthetic test identity (Tenor) and "
    "cannot be used in production",
    "UGYLDIG_TEGN": "Field %felt contains the character %tegn, which is not allowed here "
    "(control, invisible or direction characters)",
    "UPLAUSIBEL_DATO": "The date %dato in field %felt is implausible (%grunn)",
    "UPLAUSIBEL_LENGDE": "Field %felt has %lengde characters; more than %maks is implausible",
    "VEDLEGG_UGYLDIG_UUID": "Attachment '%filnavn' has uuid '%uuid', which is not a valid UUID",
}

# Rules whose server text has several variants: one English line per variant, in order.
ENGLISH_VARIANTS: dict[str, tuple[str, ...]] = {
    "VEDLEGG_SKAL_IKKE_HA_FEILET": (
        ENGLISH["VEDLEGG_SKAL_IKKE_HA_FEILET"],
        "Attachment '%s' failed to convert to a valid PDF",
        "Attachment '%s' cannot be converted to a valid PDF",
    ),
    "VEDLEGG_SKAL_VAERE_TILGJENGELIG": (
        ENGLISH["VEDLEGG_SKAL_VAERE_TILGJENGELIG"],
        "Attachment '%s' has been deleted",
        "Attachment '%s' has been discarded",
        "Attachment '%s' contains a virus",
    ),
    "VEDLEGG_SKAL_VAERE_VIRUSSJEKKET_VALIDERT_OG_KONVERTERT": (
        ENGLISH["VEDLEGG_SKAL_VAERE_VIRUSSJEKKET_VALIDERT_OG_KONVERTERT"],
        "Attachment '%s' has not been converted to a valid PDF yet",
        "Attachment '%s' has not been validated yet",
    ),
}
