"""``necessity serve`` and ``necessity log``: the PAS API and its decision log (exchange/serve/command.py)."""

from __future__ import annotations

import click

from engine.cli.options import console, policies_dir_option, policy_option, timeout_option, user_errors

database_option = click.option(
    "--database", default=None, metavar="URL",
    help="The decision log: a SQLite file (default: necessity-log.sqlite in the current folder) or a postgresql:// URL.",
)


@click.command()
@policy_option
@policies_dir_option
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; beyond loopback only with --tokens, and TLS or --insecure-listen.")
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True)
@database_option
@click.option("--tokens", "tokens_path", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="Bearer tokens, one a line: the token or sha256:HEX, then its scopes (docs/serve.md).")
@click.option("--tls-cert", type=click.Path(dir_okay=False), default=None, metavar="PEM", help="TLS certificate chain.")
@click.option("--tls-key", type=click.Path(dir_okay=False), default=None, metavar="PEM", help="TLS private key.")
@click.option("--insecure-listen", is_flag=True, help="Listen beyond loopback without TLS (a TLS proxy in front).")
@timeout_option("Stop a decision after this long (answered 503 and logged).", default=30.0)
@click.option("--workers", type=click.IntRange(min=0), default=0, show_default=True, metavar="N",
              help="Decision processes, each deciding one request at a time (0: two per core).")
@user_errors
def serve(policy_ref: str, policies_dir: str | None, host: str, port: int, database: str | None,
          tokens_path: str | None, tls_cert: str | None, tls_key: str | None, insecure_listen: bool,
          timeout: float, workers: int) -> int:
    """Answer Da Vinci PAS prior-authorization requests over HTTP (docs/serve.md).

    POST /Claim/$submit answers a PAS request Bundle exactly as `explain
    --format fhir` does; POST /Claim/$inquire finds the current answer;
    GET /metadata, /ClaimResponse/{id}, /Questionnaire/{policy}.  Every request
    and its answer is committed to the decision log before the answer is sent.

    \b
    Examples:
      necessity serve --policy reference
      necessity serve --database postgresql://necessity@db/necessity --tokens tokens.txt \\
          --host 0.0.0.0 --tls-cert cert.pem --tls-key key.pem
    """
    from exchange.serve.app import Settings
    from exchange.serve.command import serve as run

    return run(console(), Settings(policy_ref=policy_ref, policies_dir=policies_dir, database=database,
                                   tokens=tokens_path, host=host, port=port, timeout=timeout, workers=workers,
                                   tls_cert=tls_cert, tls_key=tls_key, insecure_listen=insecure_listen))


@click.group(name="log")
def log_group() -> None:
    """Read the decision log of `necessity serve`.

    \b
    Examples:
      necessity log show 8d9f13c7a66042fc9178b715e6f881e4
      necessity log export --since 2026-12-01 > library.jsonl
      necessity diff reference@HEAD~1 reference --cases library.jsonl
    """


@log_group.command(name="show")
@click.argument("record_id", metavar="ID")
@database_option
@user_errors
def log_show(record_id: str, database: str | None) -> int:
    """Print one record of the log as JSON: who asked, when, under which policy, the request and the answer.

    \b
    Example:
      necessity log show 8d9f13c7a66042fc9178b715e6f881e4 --database necessity-log.sqlite
    """
    from exchange.serve.command import show

    return show(console(), record_id, database)


@log_group.command(name="export")
@database_option
@click.option("--since", default=None, metavar="DATE", help="Only requests received on or after this date or time (UTC).")
@user_errors
def log_export(database: str | None, since: str | None) -> int:
    """Write the answered submissions as a case library (JSON Lines, one case record a line) on standard output.

    `necessity batch` and `necessity diff A B --cases` read it; each case's id is its record's id.

    \b
    Example:
      necessity log export --since 2026-12-01 > library.jsonl
    """
    from exchange.serve.command import export

    return export(console(), database, since)
