"""``necessity fhir``: FHIR prior authorization documents, written by exchange/ (exchange/command.py)."""

from __future__ import annotations

import click

from engine.cli.options import console, out_option, policies_dir_option, policy_option, user_errors


@click.group(name="fhir")
def fhir_group() -> None:
    """FHIR prior authorization: a DTR questionnaire from a policy, a PAS request Bundle from a case.

    \b
    Examples:
      necessity fhir questionnaire --policy reference
      necessity fhir bundle examples/source-002.yaml --out request.json
    """


@fhir_group.command(name="questionnaire")
@policy_option
@policies_dir_option
@click.option("--all-fields", is_flag=True, help="Every field of the case record, whatever the policy reads "
              "(the questionnaire `fhir bundle` answers).")
@out_option
@user_errors
def fhir_questionnaire(policy_ref: str, policies_dir: str | None, all_fields: bool, out_path: str) -> int:
    """Write the DTR Questionnaire of the documentation a policy reads.

    One item per case field the policy's rules read (derived from the policy
    and the case vocabulary), its linkId the field's path, its answers the
    vocabulary's values, enableWhen for fields that depend on another, and a
    help item naming the criteria (id, title, citation) that read it.  The
    request itself (date, setting, services, items) is the Claim's, not asked.
    A QuestionnaireResponse to it is a case record's documentation: answered is
    documented, false or no entries documented absent, unanswered not documented.

    \b
    Examples:
      necessity fhir questionnaire --policy reference
      necessity fhir questionnaire --policy cigna-cmm-609 --out cigna-dtr.json
    """
    from exchange.command import questionnaire

    return questionnaire(console(), policy_ref, policies_dir, all_fields=all_fields, out_path=out_path)


@fhir_group.command(name="bundle")
@click.argument("case_file", metavar="CASE", type=click.Path(dir_okay=False))
@out_option
@user_errors
def fhir_bundle(case_file: str, out_path: str) -> int:
    """Write a Da Vinci PAS request Bundle for a case file.

    The Claim (use preauthorization) requests each service and item by its
    code (exchange/data/procedures.csv) at its level (body site); the
    QuestionnaireResponse documents the rest of the record; HbA1c, cotinine,
    DEXA and BMI go as LOINC Observations.  `necessity explain` on the Bundle
    decides exactly as on the case file.

    \b
    Examples:
      necessity fhir bundle examples/source-002.yaml
      necessity fhir bundle examples/source-000.yaml --out source-000.request.json
    """
    from exchange.command import bundle

    return bundle(console(), case_file, out_path=out_path)
