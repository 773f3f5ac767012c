#!/usr/bin/env python3
"""Writes tailcast(1), a roff man page, from `tailcast --experimental-dump-help` (JSON on stdin).

    tailcast --experimental-dump-help | Packaging/deb/manpage.py --version 0.1.0 > tailcast.1

Why this and not the alternatives (it must work offline on Debian 12, at package build time):
- swift-argument-parser's `generate-manual` SwiftPM plugin writes the same page from the same
  metadata, but running it compiles the plugin and its tool (a second Swift build, minutes on a small
  machine) and needs `swift package --allow-writing-to-package-directory`; a plugin that resolves or
  fetches anything fails offline.
- help2man (a Debian package) parses GNU-style `--help` output; swift-argument-parser's help is not
  GNU-style (OVERVIEW/USAGE/OPTIONS blocks, one per subcommand), so the page comes out mangled and
  misses the subcommands.
- This script needs only python3's standard library and the binary being packaged, so the page always
  documents exactly the options that binary has (nothing written by hand goes stale). The FILES and
  ENVIRONMENT sections describe the Debian package's paths, which the binary does not know.

The date comes from SOURCE_DATE_EPOCH when set (reproducible builds), else today.
"""
import argparse
import datetime
import json
import os
import re
import sys


def roff(text: str) -> str:
    """Escapes text for roff: backslashes, and control characters at the start of a line."""
    text = text.replace("\\", "\\e")
    text = text.replace("-", "\\-")
    lines = []
    for line in text.split("\n"):
        if line.startswith((".", "'")):
            line = "\\&" + line
        lines.append(line)
    return "\n".join(lines)


def inline(text: str) -> str:
    """Roff for running text: `code` in bold, the rest escaped."""
    parts = re.split(r"`([^`]+)`", text)
    out = []
    for index, part in enumerate(parts):
        out.append(f"\\fB{roff(part)}\\fR" if index % 2 else roff(part))
    return "".join(out)


def paragraphs(text: str) -> str:
    """Discussion text: blank lines separate paragraphs; single line breaks are reflowed by roff."""
    blocks = [block.strip() for block in re.split(r"\n\s*\n", text.strip()) if block.strip()]
    return "\n.PP\n".join(inline(" ".join(line.strip() for line in block.split("\n"))) for block in blocks)


def names(argument) -> str:
    """`-q, --quiet` in bold."""
    parts = []
    for name in sorted(argument.get("names", []), key=lambda n: n["kind"] != "short"):
        prefix = "-" if name["kind"] in ("short", "longWithSingleDash") else "--"
        parts.append(f"\\fB{roff(prefix + name['name'])}\\fR")
    return ", ".join(parts)


def synopsis_item(argument) -> str:
    kind = argument["kind"]
    value = argument.get("valueName") or "value"
    if kind == "positional":
        item = f"\\fI{roff(value)}\\fR"
        if argument.get("parsingStrategy") == "postTerminator":
            item = f"\\fB\\-\\-\\fR {item}"
        if argument.get("isRepeating"):
            item += " ..."
    else:
        preferred = argument.get("preferredName") or argument["names"][0]
        prefix = "-" if preferred["kind"] in ("short", "longWithSingleDash") else "--"
        item = f"\\fB{roff(prefix + preferred['name'])}\\fR"
        if kind == "option":
            item += f" \\fI{roff(value)}\\fR"
    return item if not argument.get("isOptional") else f"[{item}]"


def visible(command):
    return [a for a in command.get("arguments", []) if a.get("shouldDisplay", True)
            and not any(n["name"] in ("help", "version") for n in a.get("names", []))]


def options(command) -> str:
    out = []
    for argument in visible(command):
        if argument["kind"] == "positional":
            head = f"\\fI{roff(argument.get('valueName', 'value'))}\\fR"
        else:
            head = names(argument)
            if argument["kind"] == "option":
                head += f" \\fI{roff(argument.get('valueName', 'value'))}\\fR"
        body = inline(argument.get("abstract", ""))
        if argument.get("discussion"):
            body += "\n.br\n" + paragraphs(argument["discussion"])
        if "defaultValue" in argument and argument["kind"] == "option":
            body += f" (default: {roff(argument['defaultValue'])})"
        if argument.get("isRepeating") and argument["kind"] == "option":
            body += " May be given more than once."
        out.append(f".TP\n{head}\n{body}")
    return "\n".join(out)


FILES = r"""
.TP
\fI/etc/tailcast/server.env\fR
Settings of \fBtailcast\-server.service\fR (address, port, log level, further \fBserve\fR options).
.TP
\fI/etc/tailcast/tail\-\fRJOB\fI.env\fR
Files and server of one \fBtailcast\-tail@\fRJOB\fB.service\fR sidecar instance.
.TP
\fI/var/lib/tailcast/jobs/\fRJOB\fI/\fR
The server's archive of one job: \fIjob.json\fR (metadata, state, exit status) and
\fIstreams/\fRNAME\fI.log\fR (the stream's bytes, exactly as written; \fBcat\fR reads them) with
\fIstreams/\fRNAME\fI.idx\fR (when each part was read).
.TP
\fI~/.local/state/tailcast/spool/\fR
Where \fBtailcast run\fR keeps output the server has not acknowledged yet.
"""

ENVIRONMENT = r"""
.TP
\fBTAILCAST_SERVER\fR
Server URL for \fBrun\fR, \fBwatch\fR and \fBls\fR when \fB\-\-server\fR is not given
(default \fIws://127.0.0.1:7070\fR).
.TP
\fBTAILCAST_SPOOL\fR
Spool directory of \fBrun\fR when \fB\-\-spool\-dir\fR is not given.
.TP
\fBTAILCAST_JOB\fR
Set by \fBrun\fR inside the wrapped job: the job's id.
.TP
\fBNO_COLOR\fR
When set, \fBls\fR prints no colours.
"""


def page(root, version: str, date: str) -> str:
    name = root["commandName"]
    subcommands = [s for s in root.get("subcommands", []) if s.get("shouldDisplay", True) and s["commandName"] != "help"]
    out = [
        f'.\\" Generated by Packaging/deb/manpage.py from `{name} --experimental-dump-help`; do not edit.',
        f'.TH {name.upper()} 1 "{date}" "{name} {roff(version)}" "User Commands"',
        ".SH NAME",
        f"{name} \\- {roff(root.get('abstract', ''))}",
        ".SH SYNOPSIS",
    ]
    for sub in subcommands:
        items = " ".join(synopsis_item(a) for a in visible(sub))
        out.append(f".B {name} {sub['commandName']}\n{items}\n.br")
    out.append(f".B {name}\n[\\fB\\-\\-version\\fR] [\\fB\\-\\-help\\fR]")
    out += [".SH DESCRIPTION", paragraphs(root.get("discussion", root.get("abstract", "")))]
    out.append(".SH COMMANDS")
    for sub in subcommands:
        out.append(f".SS {name} {sub['commandName']}")
        out.append(inline(sub.get("abstract", "")))
        if sub.get("discussion"):
            out += [".PP", paragraphs(sub["discussion"])]
        if visible(sub):
            out.append(options(sub))
        out.append(".PP")
    out += [
        ".SH COMMON OPTIONS",
        ".TP\n\\fB\\-h\\fR, \\fB\\-\\-help\\fR\nShow help (also \\fBtailcast help\\fR \\fIcommand\\fR).",
        ".TP\n\\fB\\-\\-version\\fR\nShow the version.",
        ".SH ENVIRONMENT" + ENVIRONMENT.rstrip(),
        ".SH FILES" + FILES.rstrip(),
        ".SH SEE ALSO",
        "\\fBsystemctl\\fR(1), \\fBjournalctl\\fR(1), \\fBsystemd.exec\\fR(5)",
    ]
    return "\n".join(out) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--version", required=True)
    args = parser.parse_args()
    dump = json.load(sys.stdin)
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    when = datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc) if epoch else datetime.datetime.now(datetime.timezone.utc)
    sys.stdout.write(page(dump["command"], args.version, when.strftime("%Y-%m-%d")))


if __name__ == "__main__":
    main()
