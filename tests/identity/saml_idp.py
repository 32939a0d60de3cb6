#!/usr/bin/env python3
"""A SAML 2.0 identity provider for the server's SAML tests, built on pysaml2 (PyPI).

Assertions come from pysaml2 and the xmlsec1 binary, never from NeoForge's own code:
  saml_idp.py keypair --key K --cert C [--cn NAME]
      writes a fresh RSA key and self-signed certificate (PEM) with the openssl CLI
  saml_idp.py metadata --key K --cert C --entity-id E --sso-url U
      prints the IdP's metadata XML
  saml_idp.py response --key K --cert C --entity-id E --sp-entity-id S --acs-url A
      --name-id N [--in-response-to ID] [--attr name=value ...] [--mode MODE] [--sp-cert C]
      [--sp-metadata F] [--sha1]
      prints a base64 SAMLResponse (HTTP-POST binding) for SP S at ACS A
  saml_idp.py authn-request --key K --cert C --entity-id E --sso-url U --sp-metadata F --url URL
      parses an AuthnRequest sent by HTTP-Redirect to URL, prints it as JSON
  saml_idp.py sp-metadata --key K --cert C --entity-id E --sso-url U --sp-metadata F
      prints what pysaml2 reads from SP metadata F, as JSON
  saml_idp.py serve
      serves the commands above over HTTP, so a test run starts Python once: POST / with
      {"cwd": DIR, "args": [...]} runs one in DIR and answers its output (200) or its error
      (500). Prints the port when ready; one command at a time.
Modes: signed (assertion signed), signed-response (only the Response signed), unsigned,
encrypted (assertion signed, then encrypted to --sp-cert or to the encryption key of
--sp-metadata), encrypted-signed-response (assertion encrypted unsigned, the Response
signed), denied (a Responder status, no assertion). The SP is known from --sp-metadata, or
else from minimal metadata made of --sp-entity-id, --acs-url and --sp-cert. Signatures are
RSA-SHA256 (--sha1: RSA-SHA1). Times come from the clock: tests shift the verifier's `now` to
see an expired or not yet valid assertion.
"""

import argparse
import base64
import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
import traceback
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, md, saml, samlp, xmldsig
from saml2.config import IdPConfig
from saml2.metadata import entity_descriptor
from saml2.saml import NAMEID_FORMAT_UNSPECIFIED, NameID
from saml2.server import Server


def xmlsec_binary():
    path = shutil.which("xmlsec1")
    if path is None:
        sys.exit("saml_idp.py: the xmlsec1 binary is missing (Debian package xmlsec1)")
    return path


def pem_body(path):
    """The base64 DER of a PEM certificate, as metadata carries it."""
    lines = Path(path).read_text().strip().splitlines()
    return "".join(line for line in lines if not line.startswith("-----"))


def sp_metadata(entity_id, acs_url, sp_cert):
    """Inline metadata of the SP, so pysaml2 knows its ACS (and encryption key)."""
    key = ""
    if sp_cert:
        key = (
            '<md:KeyDescriptor use="encryption"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>'
            f"{pem_body(sp_cert)}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"
        )
    return (
        f'<md:EntityDescriptor xmlns:md="{md.NAMESPACE}" '
        f'xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{entity_id}">'
        f'<md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">{key}'
        f'<md:AssertionConsumerService Binding="{BINDING_HTTP_POST}" Location="{acs_url}" index="0"/>'
        "</md:SPSSODescriptor></md:EntityDescriptor>"
    )


def idp_config(args, sp_xml=None):
    config = IdPConfig()
    settings = {
        "entityid": args.entity_id,
        "key_file": args.key,
        "cert_file": args.cert,
        "xmlsec_binary": xmlsec_binary(),
        "service": {
            "idp": {
                "endpoints": {
                    # A response needs no SSO URL, but pysaml2 wants an IdP to have one.
                    "single_sign_on_service": [
                        (getattr(args, "sso_url", None) or args.entity_id + "/sso", BINDING_HTTP_REDIRECT)
                    ]
                },
                "name_id_format": [NAMEID_FORMAT_UNSPECIFIED],
            }
        },
    }
    if sp_xml:
        settings["metadata"] = {"inline": [sp_xml]}
    config.load(settings)
    return config


def cmd_keypair(args):
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30",
         "-subj", f"/CN={args.cn}", "-keyout", args.key, "-out", args.cert],
        check=True,
        capture_output=True,
    )


def cmd_metadata(args):
    print(str(entity_descriptor(idp_config(args))))


def cmd_authn_request(args):
    idp = Server(config=idp_config(args, Path(args.sp_metadata).read_text()))
    query = parse_qs(urlparse(args.url).query)
    request = idp.parse_authn_request(query["SAMLRequest"][0], BINDING_HTTP_REDIRECT).message
    print(json.dumps({
        "destination": urlparse(args.url)._replace(query="").geturl(),
        "id": request.id,
        "issuer": request.issuer.text,
        "acs_url": request.assertion_consumer_service_url,
        "protocol_binding": request.protocol_binding,
        "relay_state": query.get("RelayState", [None])[0],
    }))


def cmd_sp_metadata(args):
    idp = Server(config=idp_config(args, Path(args.sp_metadata).read_text()))
    (entity_id,) = idp.metadata.keys()
    print(json.dumps({
        "entity_id": entity_id,
        "acs": [
            [service["binding"], service["location"]]
            for descriptor in idp.metadata[entity_id]["spsso_descriptor"]
            for service in descriptor["assertion_consumer_service"]
        ],
        "encryption_certs": [cert for _, cert in idp.metadata.certs(entity_id, "spsso", "encryption")],
    }))


def cmd_response(args):
    sp_xml = (
        Path(args.sp_metadata).read_text()
        if args.sp_metadata
        else sp_metadata(args.sp_entity_id, args.acs_url, args.sp_cert)
    )
    idp = Server(config=idp_config(args, sp_xml))
    if args.sha1:
        algorithms = {"sign_alg": xmldsig.SIG_RSA_SHA1, "digest_alg": xmldsig.DIGEST_SHA1}
    else:
        algorithms = {"sign_alg": xmldsig.SIG_RSA_SHA256, "digest_alg": xmldsig.DIGEST_SHA256}
    if args.mode == "denied":
        response = idp.create_error_response(
            args.in_response_to, args.acs_url, (samlp.STATUS_RESPONDER, "no such user"), **algorithms
        )
        print(base64.b64encode(str(response).encode()).decode())
        return
    identity = {}
    for pair in args.attr:
        name, _, value = pair.partition("=")
        identity.setdefault(name, []).append(value)
    encrypted = args.mode in ("encrypted", "encrypted-signed-response")
    response = idp.create_authn_response(
        identity=identity,
        in_response_to=args.in_response_to,
        destination=args.acs_url,
        sp_entity_id=args.sp_entity_id,
        name_id=NameID(format=NAMEID_FORMAT_UNSPECIFIED, text=args.name_id),
        authn={"class_ref": saml.AUTHN_PASSWORD_PROTECTED},
        sign_assertion=args.mode in ("signed", "encrypted"),
        sign_response=args.mode in ("signed-response", "encrypted-signed-response"),
        encrypt_assertion=encrypted,
        encrypt_cert_assertion=Path(args.sp_cert).read_text() if encrypted and args.sp_cert else None,
        **algorithms,
    )
    print(base64.b64encode(str(response).encode()).decode())


def parser():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)

    keypair = sub.add_parser("keypair")
    keypair.add_argument("--key", required=True)
    keypair.add_argument("--cert", required=True)
    keypair.add_argument("--cn", default="saml-idp.test")
    keypair.set_defaults(run=cmd_keypair)

    commands = (
        ("metadata", cmd_metadata),
        ("response", cmd_response),
        ("authn-request", cmd_authn_request),
        ("sp-metadata", cmd_sp_metadata),
    )
    for name, run in commands:
        command = sub.add_parser(name)
        command.add_argument("--key", required=True)
        command.add_argument("--cert", required=True)
        command.add_argument("--entity-id", required=True)
        command.set_defaults(run=run)
        if name != "response":
            command.add_argument("--sso-url", required=True)
        if name in ("authn-request", "sp-metadata"):
            command.add_argument("--sp-metadata", required=True)
        if name == "authn-request":
            command.add_argument("--url", required=True)
        if name == "response":
            command.add_argument("--sp-entity-id", required=True)
            command.add_argument("--acs-url", required=True)
            command.add_argument("--name-id", required=True)
            command.add_argument("--in-response-to")
            command.add_argument("--attr", action="append", default=[])
            modes = ["signed", "signed-response", "unsigned", "encrypted", "encrypted-signed-response", "denied"]
            command.add_argument("--mode", default="signed", choices=modes)
            command.add_argument("--sp-cert")
            command.add_argument("--sp-metadata")
            command.add_argument("--sha1", action="store_true")

    sub.add_parser("serve").set_defaults(run=cmd_serve)
    return parser


class Commands(BaseHTTPRequestHandler):
    def do_POST(self):
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        out = io.StringIO()
        try:
            os.chdir(request["cwd"])
            with contextlib.redirect_stdout(out):
                args = parser().parse_args(request["args"])
                args.run(args)
            status, body = 200, out.getvalue()
        except (Exception, SystemExit):  # argparse exits on bad arguments
            status, body = 500, out.getvalue() + traceback.format_exc()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args):
        pass


def cmd_serve(_args):
    server = HTTPServer(("127.0.0.1", 0), Commands)
    print(server.server_address[1], flush=True)
    server.serve_forever()


def main():
    args = parser().parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
