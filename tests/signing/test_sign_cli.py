"""`edgekit sign-url` / `sign-cookies` for a deployed stack, and their refusals (in-process)."""

from __future__ import annotations

import json
import time

import pytest

from edgekit_iac import cli
from edgekit_iac import cloudfront_signing as signing

URL = "https://img.example.com/images/400x300/private/cat.jpg"


@pytest.fixture()
def project(tmp_path, monkeypatch):
    """A project whose stack `demo` trusts one key; its private half and outputs on disk."""
    key = signing.new_private_key()
    pem = signing.public_pem(key)
    (tmp_path / "stacks").mkdir()
    indented = "".join(f"        {line}\n" for line in pem.strip().splitlines())
    (tmp_path / "stacks" / "Pulumi.demo.yaml").write_text(
        "config:\n  edgekit:environment: staging\n  edgekit:images:\n"
        f"    signingPublicKeys:\n      k1: |\n{indented}")
    (tmp_path / "key.pem").write_bytes(signing.private_pem(key))
    (tmp_path / "outputs.json").write_text(json.dumps({"urlSigningKeyIds": {"k1": "K1ABC"}}))
    monkeypatch.setenv("EDGEKIT_HOME", str(tmp_path))
    return tmp_path, key


def run(capsys, *argv: str) -> tuple[int, str, str]:
    status = cli.main(list(argv))
    out = capsys.readouterr()
    return status, out.out, out.err


def test_a_deployed_stack_signs_with_its_secret_key_and_output_key_id(project, capsys):
    root, key = project
    status, out, err = run(capsys, "sign-url", "--stack", "demo", URL, "--expires", "120",
                           "--ip", "203.0.113.0/24", "--key-file", str(root / "key.pem"),
                           "--outputs", str(root / "outputs.json"))
    assert status == 0, err
    signed = out.strip()
    assert signed.startswith(URL + "?Policy=") and signed.endswith("&Key-Pair-Id=K1ABC")
    pairs = [tuple(item.split("=", 1)) for item in signed.partition("?")[2].split("&")]
    signing.verify(signing.credentials(pairs, {}), URL, "203.0.113.5", time.time(),
                   {"K1ABC": key.public_key()})


def test_cookies_print_three_set_cookie_lines(project, capsys):
    root, _ = project
    status, out, err = run(capsys, "sign-cookies", "--stack", "demo",
                           "https://img.example.com/images/*/private/*",
                           "--key-file", str(root / "key.pem"), "--key-pair-id", "K1ABC")
    assert status == 0, err
    assert [line.split("=", 1)[0] for line in out.splitlines()] == [
        "Set-Cookie: CloudFront-Policy", "Set-Cookie: CloudFront-Signature",
        "Set-Cookie: CloudFront-Key-Pair-Id"]
    assert "Domain=img.example.com" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["sign-url", "--stack", "demo", "img.example.com/a.jpg"], "accepted: an absolute"),
        (["sign-url", "--stack", "demo", URL + "?Expires=1"], "already carries Expires"),
        (["sign-url", "--stack", "demo", "https://img.example.com/images/*"],
         "holds a wildcard"),
        (["sign-url", "--stack", "demo", URL, "--expires", "0"], "--expires 0"),
        (["sign-url", "--stack", "demo", URL, "--ip", "10.0.0.1/24"], "host bits"),
        (["sign-url", "--stack", "demo", URL], "needs --key-file"),
        (["sign-url", "--stack", "demo", URL, "--resource", "https://other.example.com/*"],
         "does not cover"),
        (["sign-url", "--stack", "local", "--state-dir", "{root}/empty", URL],
         "no local twin key"),
    ],
)
def test_bad_input_is_one_line_and_status_2(project, capsys, argv, message):
    root, _ = project
    status, _, err = run(capsys, *[arg.format(root=root) for arg in argv])
    assert status == 2 and message in err and err.count("\n") == 1


def test_a_key_the_stack_does_not_trust_is_refused(project, capsys):
    root, _ = project
    (root / "other.pem").write_bytes(signing.private_pem(signing.new_private_key()))
    status, _, err = run(capsys, "sign-url", "--stack", "demo", URL,
                         "--key-file", str(root / "other.pem"),
                         "--outputs", str(root / "outputs.json"))
    assert status == 2 and "none of edgekit:images.signingPublicKeys" in err
    (root / "junk.pem").write_text("not a key")
    status, _, err = run(capsys, "sign-url", "--stack", "demo", URL,
                         "--key-file", str(root / "junk.pem"))
    assert status == 2 and "contents not shown" in err and "not a key" not in err


def test_the_stack_refuses_a_signing_secret_its_key_group_does_not_trust():
    from pulumi.runtime import config as runtime_config

    from edgekit_iac import stack_args
    from edgekit_iac.config import parse_settings

    trusted, other = signing.new_private_key(), signing.new_private_key()
    settings = parse_settings({"environment": "staging", "images": {
        "signingPublicKeys": {"k1": signing.public_pem(trusted)}}}, "stacks/Pulumi.x.yaml")

    def problems(secret: bytes) -> list[str]:
        runtime_config.set_all_config({stack_args.URL_SIGNING_KEY: secret.decode()},
                                      [stack_args.URL_SIGNING_KEY])
        try:
            return stack_args.signing_key_problems(settings)
        finally:
            runtime_config.set_all_config({}, [])

    assert problems(signing.private_pem(trusted)) == []
    (problem,) = problems(signing.private_pem(other))
    assert "none of edgekit:images.signingPublicKeys (k1)" in problem
    (problem,) = problems(b"-----BEGIN PRIVATE KEY-----\nsecret\n-----END PRIVATE KEY-----\n")
    assert "value not shown" in problem and "secret" not in problem.replace("secret_", "")
