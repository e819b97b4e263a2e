"""The Edge Functions' own Deno tests (supabase/functions/*/*_test.ts), run against a fresh
migrated database of the test harness, plus `deno lint` and `deno fmt --check`."""

from __future__ import annotations

import re
import tomllib

from deno_support import FUNCTIONS, run_deno


def test_deno_tests_of_both_functions_pass_against_the_real_database(db_url: str) -> None:
    result = run_deno(
        "test",
        "--allow-net",
        "--allow-env",
        # the share page's PDFs from a folder laid out as the bucket (a temporary one)
        "--allow-read",
        "--allow-write",
        "supabase/functions/",
        env={"DATABASE_URL": db_url},
    )
    assert result.returncode == 0, result.stdout
    assert "shared-report/report_test.ts" in result.stdout
    assert "api/api_test.ts" in result.stdout
    assert "shared-report/pdf_test.ts" in result.stdout
    assert " 0 failed" in result.stdout


def test_the_functions_pass_deno_lint_and_format() -> None:
    lint = run_deno("lint", "supabase/functions/")
    assert lint.returncode == 0, lint.stdout
    fmt = run_deno(
        "fmt",
        "--check",
        "--line-width",
        "120",
        "--ignore=supabase/functions/README.md",
        "supabase/functions/",
    )
    assert fmt.returncode == 0, fmt.stdout


def test_config_toml_leaves_token_checks_to_the_api_itself() -> None:
    """The gateway's check is off for both: the share page has no token, and the API verifies
    every token itself (api/jwt.ts), signing keys included, with CORS on its 401."""
    config = tomllib.loads((FUNCTIONS.parent / "config.toml").read_text())
    assert config["functions"]["shared-report"]["verify_jwt"] is False
    assert config["functions"]["api"]["verify_jwt"] is False
    api = (FUNCTIONS / "api" / "api.ts").read_text()
    assert "await config.verifyToken(jwt)" in api


def test_the_functions_import_only_npm_and_node_specifiers_and_relative_modules() -> None:
    specifier = re.compile(r"""\bfrom\s+["']([^"']+)["']|\bimport\s*\(?\s*["']([^"']+)["']""")
    for source in FUNCTIONS.rglob("*.ts"):
        for found in specifier.findall(source.read_text()):
            name = found[0] or found[1]
            assert name.startswith(("npm:", "node:", "./", "../")), f"{source.name}: {name}"
