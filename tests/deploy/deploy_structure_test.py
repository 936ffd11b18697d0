#!/usr/bin/env python3
"""Structure test of the deployment files, by reading them (no Docker engine is needed or used).

Checks the Dockerfile (stages, runtime user, healthcheck, what is copied from where, runtime apt packages: that
they exist in Debian bookworm and provide every shared library the real built binary and its modules load),
.dockerignore, docker-compose.yml (mongo / api / ingest / sqlite services, loopback-only ports) and
scripts/container-entrypoint.sh (syntax, mode, and its dispatch, run against a fake meta_db).

The modules are the build/meta_db_*.so the binary dlopens from beside itself on first use: at least
meta_db_dicom.so and meta_db_mongo.so (MODULES below), plus any other meta_db_*.so file name the built binary
contains. Each must be copied beside meta_db in the runtime stage, and the runtime packages must provide its
libraries.

Usage: deploy_structure_test.py [--repo DIR] [--binary build/meta_db] [--module build/meta_db_dicom.so ...]
  --module may be given several times; a module not given is looked for beside the binary.
  env META_DB_BUILD_DIR: a build directory whose meta_db and modules to ldd (overrides the paths of the options).
Prints one line per check and finally "N passed, N failed" (", N skipped" when some sub-checks could not run).
Only the standard library: PyYAML is used, when installed, to cross-check the small YAML reader below.
"""
import argparse
import glob
import json
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
import tempfile

# --------------------------------------------------------------------------------------------------------------
# Results


class Results:
    def __init__(self):
        self.passed = 0
        self.failed = 0
        self.skipped = 0

    def check(self, name, ok, detail=""):
        if ok:
            self.passed += 1
            print(f"PASS {name}")
        else:
            self.failed += 1
            print(f"FAIL {name}" + (f": {detail}" if detail else ""))
        return ok

    def skip(self, name, why):
        self.skipped += 1
        print(f"SKIP {name}: {why}")

    def section(self, name, fn, *args):
        """Runs one group of checks; an exception (e.g. an unparsable file) is one failure, not a crash."""
        try:
            return fn(*args)
        except Exception as error:  # noqa: BLE001 - reported as a failed check
            self.check(f"{name} (ran to the end)", False, f"{type(error).__name__}: {error}")
            return None


R = Results()

# --------------------------------------------------------------------------------------------------------------
# Dockerfile reading


class Instruction:
    def __init__(self, keyword, args, line):
        self.keyword = keyword
        self.args = args
        self.line = line

    def __repr__(self):
        return f"{self.keyword} {self.args} (line {self.line})"


class Stage:
    def __init__(self, index, image, name, line):
        self.index = index
        self.image = image
        self.name = name
        self.line = line
        self.instructions = []

    def all(self, keyword):
        return [i for i in self.instructions if i.keyword == keyword]

    def env(self):
        values = {}
        for instruction in self.all("ENV"):
            values.update(parse_env(instruction.args))
        return values

    def workdir(self, before=None):
        """The WORKDIR in force at instruction `before` (default: at the end of the stage)."""
        current = "/"
        for instruction in self.instructions:
            if instruction is before:
                break
            if instruction.keyword == "WORKDIR":
                current = os.path.normpath(os.path.join(current, instruction.args.strip()))
        return current


def logical_lines(text):
    """(line number, text) of each instruction: continuations joined, comment lines dropped (as Docker does)."""
    out, pending, start = [], "", 0
    for number, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if stripped.startswith("#"):
            continue
        if not pending and not stripped:
            continue
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending += stripped[:-1].rstrip() + " "
            continue
        pending += stripped
        out.append((start, pending.strip()))
        pending = ""
    if pending.strip():
        out.append((start, pending.strip()))
    return out


def parse_dockerfile(text):
    stages = []
    for number, line in logical_lines(text):
        keyword, _, args = line.partition(" ")
        keyword = keyword.upper()
        args = args.strip()
        if keyword == "FROM":
            words = [w for w in args.split() if not w.startswith("--")]
            name = words[2] if len(words) >= 3 and words[1].lower() == "as" else None
            stages.append(Stage(len(stages), words[0], name, number))
        elif stages:
            stages[-1].instructions.append(Instruction(keyword, args, number))
        elif keyword not in ("ARG",):
            raise ValueError(f"line {number}: {keyword} before the first FROM")
    return stages


def parse_env(args):
    words = shlex.split(args, posix=True)
    if words and "=" not in words[0]:  # legacy form: ENV KEY value with spaces
        return {words[0]: args.split(None, 1)[1] if len(words) > 1 else ""}
    values = {}
    for word in words:
        key, _, value = word.partition("=")
        values[key] = value
    return values


def split_flags(args):
    """COPY/ADD: ({flag: value}, [sources], dest); both the shell and the JSON form."""
    flags = {}
    rest = args.strip()
    while rest.startswith("--"):
        word, _, rest = rest.partition(" ")
        key, _, value = word[2:].partition("=")
        flags[key] = value
        rest = rest.strip()
    words = json.loads(rest) if rest.startswith("[") else shlex.split(rest)
    if len(words) < 2:
        raise ValueError(f"COPY needs a source and a destination: {args}")
    return flags, words[:-1], words[-1]


def command_text(args):
    """The command of CMD/ENTRYPOINT/HEALTHCHECK CMD as one string (JSON form joined by spaces)."""
    stripped = args.strip()
    if stripped.startswith("["):
        return " ".join(json.loads(stripped))
    return stripped


def healthcheck_command(args):
    words = args.split()
    while words and words[0].startswith("--"):
        words.pop(0)
    if not words:
        return None
    if words[0].upper() == "NONE":
        return "NONE"
    if words[0].upper() != "CMD":
        raise ValueError(f"HEALTHCHECK without CMD: {args}")
    return command_text(args[args.upper().index("CMD") + 3:])


def apt_packages(stage):
    """Packages named by `apt-get install` / `apt install` in a stage's RUN instructions, and those RUN texts."""
    packages, texts = [], []
    for instruction in stage.all("RUN"):
        text = instruction.args
        if not re.search(r"\bapt(-get)?\s+(\S+\s+)*install\b", text):
            continue
        texts.append(text)
        for segment in re.split(r"&&|\|\||;|\|", text):
            words = segment.split()
            for i, word in enumerate(words):
                if word in ("apt-get", "apt") and "install" in words[i + 1:]:
                    after = words[words.index("install", i) + 1:]
                    for candidate in after:
                        if candidate.startswith("-") or "$" in candidate:
                            continue
                        packages.append(candidate.split("=")[0])
                    break
    return packages, texts


# --------------------------------------------------------------------------------------------------------------
# .dockerignore matching (Docker's rules: patterns relative to the context root, `**` any number of directories,
# a path is excluded when it or one of its parents matches, the last matching pattern wins, `!` re-includes)


def ignore_patterns(text):
    patterns = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        if negate:
            line = line[1:].strip()
        line = os.path.normpath(line.lstrip("/")).rstrip("/")
        patterns.append((negate, pattern_regex(line)))
    return patterns


def pattern_regex(pattern):
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
        elif pattern.startswith("**", i):
            out += ".*"
            i += 2
        elif pattern[i] == "*":
            out += "[^/]*"
            i += 1
        elif pattern[i] == "?":
            out += "[^/]"
            i += 1
        elif pattern[i] == "[":
            end = pattern.find("]", i)
            out += pattern[i:end + 1] if end > 0 else re.escape(pattern[i])
            i = end + 1 if end > 0 else i + 1
        else:
            out += re.escape(pattern[i])
            i += 1
    return re.compile(out + r"\Z")


def ignored(path, patterns):
    path = os.path.normpath(path).lstrip("/")
    parts = path.split("/")
    prefixes = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
    excluded = False
    for negate, regex in patterns:
        if any(regex.match(prefix) for prefix in prefixes):
            excluded = not negate
    return excluded


# --------------------------------------------------------------------------------------------------------------
# A small YAML reader for docker-compose.yml (block mappings and sequences, plain/quoted scalars, flow
# sequences and mappings, comments), so the test needs no PyYAML. Scalars resolve as PyYAML's YAML 1.1 does
# (null, booleans incl. yes/no/on/off, ints, floats); anchors, aliases, merge keys, tags and block scalars are
# refused, and so are plain scalars YAML 1.1 would read as base-60 numbers ("80:80": quote ports).


class YamlError(ValueError):
    pass


BOOLS = {v: True for v in "yes Yes YES true True TRUE on On ON".split()}
BOOLS.update({v: False for v in "no No NO false False FALSE off Off OFF".split()})


def strip_comment(line):
    quote = None
    for i, c in enumerate(line):
        if quote:
            if c == quote:
                quote = None
        elif c in "'\"" and (i == 0 or line[i - 1] in " \t[{,:-"):
            quote = c
        elif c == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i]
    return line


def find_colon(text):
    """Index of the colon that ends a mapping key (followed by a space or the end), outside quotes/brackets."""
    quote, depth = None, 0
    for i, c in enumerate(text):
        if quote:
            if c == quote:
                quote = None
            continue
        if c in "'\"" and (i == 0 or text[i - 1] in " [{,"):
            quote = c
        elif c in "[{":
            depth += 1
        elif c in "]}":
            depth -= 1
        elif c == ":" and depth == 0 and (i + 1 == len(text) or text[i + 1] == " "):
            return i
    return -1


def split_flow(text):
    items, quote, depth, current = [], None, 0, ""
    for c in text:
        if quote:
            current += c
            if c == quote:
                quote = None
            continue
        if c in "'\"":
            quote = c
        elif c in "[{":
            depth += 1
        elif c in "]}":
            depth -= 1
        elif c == "," and depth == 0:
            items.append(current.strip())
            current = ""
            continue
        current += c
    if current.strip():
        items.append(current.strip())
    return items


def scalar(text, line):
    text = text.strip()
    if not text:
        return None
    if text[0] in "&*!|>%@`":
        raise YamlError(f"line {line}: unsupported YAML construct {text[:10]!r} (anchors, aliases, tags, block scalars)")
    if text[0] == '"':
        if not text.endswith('"') or len(text) < 2:
            raise YamlError(f"line {line}: unterminated double-quoted scalar")
        try:
            return json.loads(text)
        except json.JSONDecodeError as error:
            raise YamlError(f"line {line}: double-quoted scalar: {error}") from None
    if text[0] == "'":
        if not text.endswith("'") or len(text) < 2:
            raise YamlError(f"line {line}: unterminated single-quoted scalar")
        return text[1:-1].replace("''", "'")
    if text[0] == "[":
        if not text.endswith("]"):
            raise YamlError(f"line {line}: unterminated flow sequence")
        return [scalar(item, line) for item in split_flow(text[1:-1])]
    if text[0] == "{":
        if not text.endswith("}"):
            raise YamlError(f"line {line}: unterminated flow mapping")
        out = {}
        for item in split_flow(text[1:-1]):
            colon = find_colon(item)
            if colon < 0:
                raise YamlError(f"line {line}: flow mapping entry without ': ': {item!r}")
            out[scalar(item[:colon], line)] = scalar(item[colon + 1:], line)
        return out
    if text in ("~", "null", "Null", "NULL"):
        return None
    if text in BOOLS:
        return BOOLS[text]
    if re.fullmatch(r"[-+]?[1-9][0-9_]*(:[0-5]?[0-9])+", text):
        raise YamlError(f"line {line}: {text!r} is a base-60 number in YAML 1.1: quote it")
    if re.fullmatch(r"[-+]?(0|[1-9][0-9_]*)", text):
        return int(text.replace("_", ""))
    if re.fullmatch(r"[-+]?(\.[0-9]+|[0-9][0-9_]*\.[0-9_]*)([eE][-+][0-9]+)?", text):
        return float(text.replace("_", ""))
    if re.fullmatch(r"0[0-7_]+|0x[0-9a-fA-F_]+|0b[01_]+|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}.*", text):
        raise YamlError(f"line {line}: {text!r} is an octal/hex/binary number or a date in YAML 1.1: quote it")
    return text


def load_yaml(text):
    lines = []
    for number, raw in enumerate(text.splitlines(), 1):
        body = strip_comment(raw).rstrip()
        if not body.strip() or body.strip() in ("---", "..."):
            continue
        if "\t" in body[:len(body) - len(body.lstrip())]:
            raise YamlError(f"line {number}: tab in indentation")
        lines.append([len(body) - len(body.lstrip(" ")), body.strip(), number])
    if not lines:
        return None
    end, value = block(lines, 0, lines[0][0])
    if end != len(lines):
        raise YamlError(f"line {lines[end][2]}: unexpected indentation")
    return value


def is_item(content):
    return content == "-" or content.startswith("- ")


def block(lines, i, indent):
    return sequence(lines, i, indent) if is_item(lines[i][1]) else mapping(lines, i, indent)


def nested(lines, i, indent):
    """The value of a key or item whose text ended at lines[i]: a deeper block, or null."""
    if i + 1 < len(lines) and lines[i + 1][0] > indent:
        return block(lines, i + 1, lines[i + 1][0])
    return i + 1, None


def sequence(lines, i, indent):
    items = []
    while i < len(lines) and lines[i][0] == indent and is_item(lines[i][1]):
        indent_i, content, number = lines[i]
        rest = content[1:].lstrip()
        if not rest:
            i, value = nested(lines, i, indent)
        elif find_colon(rest) >= 0 and rest[0] not in "[{":
            column = indent + len(content) - len(rest)
            lines[i] = [column, rest, number]  # "- key: v" opens a mapping at the key's column
            i, value = mapping(lines, i, column)
        else:
            value = scalar(rest, number)
            i += 1
        items.append(value)
    return i, items


def mapping(lines, i, indent):
    out = {}
    while i < len(lines) and lines[i][0] == indent:
        _, content, number = lines[i]
        if is_item(content):
            raise YamlError(f"line {number}: sequence item where a mapping key was expected")
        colon = find_colon(content)
        if colon < 0:
            raise YamlError(f"line {number}: expected 'key: value', got {content!r}")
        key = scalar(content[:colon], number)
        if key == "<<":
            raise YamlError(f"line {number}: merge keys are not supported")
        if key in out:
            raise YamlError(f"line {number}: duplicate key {key!r}")
        rest = content[colon + 1:].strip()
        if rest:
            value = scalar(rest, number)
            i += 1
        elif i + 1 < len(lines) and lines[i + 1][0] == indent and is_item(lines[i + 1][1]):
            i, value = sequence(lines, i + 1, indent)  # "key:" followed by "- item" at the same indentation
        else:
            i, value = nested(lines, i, indent)
        out[key] = value
    if i < len(lines) and lines[i][0] > indent:
        raise YamlError(f"line {lines[i][2]}: unexpected indentation")
    return i, out


# --------------------------------------------------------------------------------------------------------------
# Helpers


def run(cmd, **kwargs):
    return subprocess.run(cmd, capture_output=True, text=True, **kwargs)


def with_defaults(text):
    """Compose interpolation with no environment: ${VAR:-default} / ${VAR-default} -> default, ${VAR} -> ''."""
    text = str(text)
    return re.sub(r"\$\{[A-Za-z_][A-Za-z0-9_]*(?::?[-?]([^}]*))?\}", lambda m: m.group(1) or "", text)


def split_colons(text):
    """Splits a compose short-syntax value on ':' outside ${...} and [...]."""
    parts, depth, current, i = [], 0, "", 0
    while i < len(text):
        c = text[i]
        if text.startswith("${", i):
            depth += 1
            current += "${"
            i += 2
            continue
        if c == "[":
            depth += 1
        elif c in "}]" and depth:
            depth -= 1
        elif c == ":" and depth == 0:
            parts.append(current)
            current = ""
            i += 1
            continue
        current += c
        i += 1
    parts.append(current)
    return parts


def environment(service):
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.partition("=")[::2] for item in env)
    return {k: ("" if v is None else str(v)) for k, v in env.items()}


def depends_healthy(service, target):
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return False  # the short form waits only for the container to start
    return isinstance(deps.get(target), dict) and deps[target].get("condition") == "service_healthy"


def command_words(service):
    command = service.get("command")
    if command is None:
        return []
    return command if isinstance(command, list) else shlex.split(str(command))


LOOPBACK = ("127.", "localhost", "::1", "[::1]")


def port_problem(entry):
    """None when the entry publishes on a loopback address only, else why not."""
    if isinstance(entry, dict):
        host_ip = with_defaults(entry.get("host_ip", ""))
        return None if host_ip.startswith(LOOPBACK) else f"long syntax without a loopback host_ip: {entry}"
    text = with_defaults(str(entry))
    if text.startswith("[::1]:"):
        return None
    parts = split_colons(text)
    if len(parts) == 3 and parts[0].startswith(LOOPBACK):
        return None
    return f"{entry!r} publishes on all interfaces (use 127.0.0.1:HOST:CONTAINER)"


def volume_entries(service):
    """(source, target, read_only) of each volume, short or long syntax."""
    out = []
    for entry in service.get("volumes") or []:
        if isinstance(entry, dict):
            out.append((str(entry.get("source", "")), str(entry.get("target", "")), bool(entry.get("read_only"))))
            continue
        parts = split_colons(str(entry))
        if len(parts) == 1:
            out.append(("", parts[0], False))
        else:
            mode = parts[2] if len(parts) > 2 else ""
            out.append((parts[0], parts[1], "ro" in mode.split(",")))
    return out


def is_named_volume(source):
    return bool(source) and not source.startswith(("/", ".", "~", "$"))


# --------------------------------------------------------------------------------------------------------------
# The checks

ARCHIVE_MOUNT = "/usr/local/share/LIDC-IDRI-DICOM"
# The modules the binary loads from beside itself (LoadModuleSymbol in src/common/module_loader.cpp): checked even
# without a built binary; a built binary adds any other meta_db_*.so it names (see find_built).
MODULES = ("meta_db_dicom.so", "meta_db_mongo.so")
MODULE_NAME = re.compile(rb"(?<![A-Za-z0-9_.-])meta_db_[A-Za-z0-9_]+\.so(?![A-Za-z0-9_.])")
BUILD_OUTPUTS = {"build/meta_db", "dashboard/dist", "src/db_api/swagger/node_modules/swagger-ui-dist"} \
    | {f"build/{m}" for m in MODULES}
# Packages every debian:bookworm-slim image has (dependencies of dpkg and apt), whatever the stage installs.
SLIM_BASE = {"libc6", "libgcc-s1", "libstdc++6", "zlib1g"}


def check_dockerfile(repo, info):
    path = os.path.join(repo, "Dockerfile")
    stages = parse_dockerfile(open(path, encoding="utf-8").read())
    info["stages"] = stages
    R.check("Dockerfile: at least two FROM stages", len(stages) >= 2, f"{len(stages)} stage(s)")
    names = {}
    for stage in stages:
        image = stage.image
        based_on_stage = image in names
        R.check(f"Dockerfile: stage {stage.index} ({image}) is Debian bookworm",
                based_on_stage or "bookworm" in image or re.search(r"debian:12\b", image) is not None, image)
        if stage.name:
            names[stage.name] = stage
        names[str(stage.index)] = stage
    final = stages[-1]
    info["final"] = final
    R.check("Dockerfile: the last stage is debian:bookworm-slim",
            re.match(r"(docker\.io/)?(library/)?debian:(bookworm|12)-slim\b", final.image) is not None, final.image)

    build_stages = [s for s in stages[:-1]]
    bootstrap = [(s, i) for s in build_stages for i in s.all("RUN") if "scripts/bootstrap.sh" in i.args]
    R.check("Dockerfile: a build stage runs scripts/bootstrap.sh", bool(bootstrap))
    for stage, instruction in bootstrap:
        browser = parse_env_value(stage, instruction, "META_DB_WITH_BROWSER")
        R.check("Dockerfile: bootstrap runs with META_DB_WITH_BROWSER=0", browser == "0", f"got {browser!r}")
    builds = [(s, i) for s in build_stages for i in s.all("RUN") if "scripts/build.sh" in i.args]
    R.check("Dockerfile: a build stage runs scripts/build.sh", bool(builds))
    for stage, instruction in builds:
        cmake_args = parse_env_value(stage, instruction, "CMAKE_ARGS") or ""
        R.check("Dockerfile: scripts/build.sh runs with CMAKE_ARGS=-DMETA_DB_TESTS=OFF",
                "-DMETA_DB_TESTS=OFF" in cmake_args, f"CMAKE_ARGS={cmake_args!r}")

    users = final.all("USER")
    user = users[-1].args.split(":")[0].strip() if users else "root"
    R.check("Dockerfile: the runtime stage runs as a non-root USER", user not in ("root", "0", ""), f"USER {user}")

    exposed = [p.split("/")[0] for i in final.all("EXPOSE") for p in i.args.split()]
    R.check("Dockerfile: EXPOSE 8000", "8000" in exposed, f"EXPOSE {exposed}")
    volumes = []
    for instruction in final.all("VOLUME"):
        args = instruction.args.strip()
        volumes += json.loads(args) if args.startswith("[") else args.split()
    R.check("Dockerfile: VOLUME /data", "/data" in [v.rstrip("/") for v in volumes], f"VOLUME {volumes}")
    env = final.env()
    info["env"] = env
    R.check("Dockerfile: default META_DB_URI=sqlite:/data/...",
            env.get("META_DB_URI", "").startswith("sqlite:/data/"), f"META_DB_URI={env.get('META_DB_URI')!r}")

    packages, texts = apt_packages(final)
    info["packages"] = packages
    R.check("Dockerfile: the runtime stage installs packages with apt", bool(packages))
    R.check("Dockerfile: runtime packages include libmongoc-1.0-0 and libbson-1.0-0",
            {"libmongoc-1.0-0", "libbson-1.0-0"} <= set(packages), f"{packages}")
    dev = [p for p in packages if p.endswith("-dev")]
    R.check("Dockerfile: no -dev package in the runtime stage", not dev, f"{dev}")
    R.check("Dockerfile: runtime apt uses --no-install-recommends and removes its lists",
            all("--no-install-recommends" in t and "/var/lib/apt/lists" in t for t in texts))

    checks = final.all("HEALTHCHECK")
    command = healthcheck_command(checks[-1].args) if checks else None
    R.check("Dockerfile: HEALTHCHECK on /health of 127.0.0.1:8000",
            command not in (None, "NONE") and re.search(r"/health(?![\w/.-])", command) is not None
            and re.search(r"(127\.0\.0\.1|localhost)", command) is not None
            and re.search(r"(:|/|-)8000\b|META_DB_PORT:-8000", command) is not None, f"{command!r}")
    for tool in ("curl", "wget"):
        if command and re.search(rf"\b{tool}\b", command):
            R.check(f"Dockerfile: the healthcheck's {tool} is installed", tool in packages, f"{packages}")

    check_copies(repo, stages, names, final, env, info)


def parse_env_value(stage, instruction, name):
    """NAME as a RUN sees it: an inline NAME=... assignment in the RUN, else the stage's ENV."""
    match = re.search(rf"(?:^|[\s;&|]){name}=(\"[^\"]*\"|'[^']*'|\S+)", instruction.args)
    if match:
        return shlex.split(match.group(1))[0] if match.group(1) else ""
    values = {}
    for i in stage.instructions:
        if i is instruction:
            break
        if i.keyword == "ENV":
            values.update(parse_env(i.args))
    return values.get(name)


def check_copies(repo, stages, names, final, env, info):
    patterns = ignore_patterns(open(os.path.join(repo, ".dockerignore"), encoding="utf-8").read()) \
        if os.path.exists(os.path.join(repo, ".dockerignore")) else []
    from_build = {}  # relative build output -> destination in the final stage
    for stage in stages:
        for instruction in stage.all("COPY") + stage.all("ADD"):
            flags, sources, dest = split_flags(instruction.args)
            slash = dest.endswith("/")
            dest = os.path.normpath(os.path.join(stage.workdir(instruction), dest)) + ("/" if slash else "")
            if "from" in flags:
                source_stage = names.get(flags["from"])
                ok = source_stage is not None and source_stage.index < stage.index
                R.check(f"Dockerfile line {instruction.line}: --from={flags['from']} names an earlier stage",
                        ok or ":" in flags["from"], flags["from"])
                if stage is final and source_stage is not None:
                    workdir = source_stage.workdir()
                    for source in sources:
                        rel = os.path.relpath(os.path.normpath(os.path.join(workdir, source)), workdir)
                        target = dest if not dest.endswith("/") else os.path.join(dest, os.path.basename(rel))
                        from_build[rel] = os.path.normpath(target)
                continue
            for source in sources:
                rel = os.path.normpath(source)
                exists = rel == "." or os.path.exists(os.path.join(repo, rel)) or rel in BUILD_OUTPUTS
                R.check(f"Dockerfile line {instruction.line}: context source {source} exists in the repository",
                        exists)
                R.check(f"Dockerfile line {instruction.line}: context source {source} is not in .dockerignore",
                        rel == "." or not ignored(rel, patterns))
                if stage is final:
                    info.setdefault("context_copies", []).append((rel, dest))

    binary = from_build.get("build/meta_db")
    R.check("Dockerfile: the runtime stage copies build/meta_db from the build stage", binary is not None,
            f"copied from the build stage: {sorted(from_build)}")
    copied_modules = {os.path.basename(rel) for rel in from_build if re.fullmatch(r"build/meta_db_[\w.-]+\.so", rel)}
    for name in sorted(set(info.get("modules") or MODULES) | copied_modules):
        module = from_build.get(f"build/{name}")
        R.check(f"Dockerfile: the runtime stage copies build/{name} from the build stage", module is not None,
                f"copied from the build stage: {sorted(from_build)}")
        if binary and module:
            R.check(f"Dockerfile: {name} lands beside meta_db (it is dlopen'ed from there)",
                    os.path.dirname(binary) == os.path.dirname(module), f"{binary} vs {module}")
    bin_dir = os.path.dirname(binary) if binary else None
    info["bin_dir"] = bin_dir
    dashboard = from_build.get("dashboard/dist")
    R.check("Dockerfile: the runtime stage copies dashboard/dist from the build stage", dashboard is not None)
    swagger = from_build.get("src/db_api/swagger/node_modules/swagger-ui-dist")
    R.check("Dockerfile: the runtime stage copies swagger-ui-dist (the /docs assets) from the build stage",
            swagger is not None)
    prefix = os.path.dirname(bin_dir) if bin_dir else None
    if dashboard:
        # The server's own fallback is <dir of the binary>/../dashboard/dist; the entrypoint passes META_DB_WEB_ROOT.
        R.check("Dockerfile: META_DB_WEB_ROOT (or the binary's fallback) is where dashboard/dist is copied",
                env.get("META_DB_WEB_ROOT") == dashboard
                or (prefix is not None and dashboard == os.path.join(prefix, "dashboard/dist")),
                f"copied to {dashboard}, META_DB_WEB_ROOT={env.get('META_DB_WEB_ROOT')!r}")
    if swagger:
        R.check("Dockerfile: META_DB_SWAGGER_DIR (or the binary's fallback) is where swagger-ui-dist is copied",
                env.get("META_DB_SWAGGER_DIR") == swagger
                or (prefix is not None
                    and swagger == os.path.join(prefix, "src/db_api/swagger/node_modules/swagger-ui-dist")),
                f"copied to {swagger}, META_DB_SWAGGER_DIR={env.get('META_DB_SWAGGER_DIR')!r}")
    R.check("Dockerfile: the profiles/ directory is copied into the image",
            any(rel == "profiles" for rel, _ in info.get("context_copies", [])) or "profiles" in from_build)
    if bin_dir:
        path_dirs = [os.path.normpath(p) for p in env.get("PATH", "").split(":") if p]
        R.check("Dockerfile: the binary's directory is on PATH (the entrypoint runs `meta_db`)",
                bin_dir in path_dirs, f"PATH={env.get('PATH')!r}, binary in {bin_dir}")

    entry = [i for i in final.all("ENTRYPOINT")]
    entry_cmd = command_text(entry[-1].args).split()[0] if entry else ""
    copies = {os.path.normpath(dest if not dest.endswith("/") else os.path.join(dest, os.path.basename(rel))): rel
              for rel, dest in info.get("context_copies", [])}
    R.check("Dockerfile: ENTRYPOINT is scripts/container-entrypoint.sh as copied into the image",
            copies.get(os.path.normpath(entry_cmd)) == "scripts/container-entrypoint.sh" if entry_cmd else False,
            f"ENTRYPOINT {entry_cmd!r}, copied: {copies}")


def check_dockerignore(repo):
    path = os.path.join(repo, ".dockerignore")
    if not R.check(".dockerignore exists", os.path.exists(path)):
        return
    patterns = ignore_patterns(open(path, encoding="utf-8").read())
    for sample in ("build/CMakeCache.txt", "build-test/meta_db", "dashboard/node_modules/vite/package.json",
                   "src/db_api/swagger/node_modules/swagger-ui-dist/index.html", "bench/out/ingest.json",
                   "meta_db.sqlite", "meta_db.sqlite-wal", "tests/tmp/x.sqlite", "demo-archive/manifest.json",
                   ".git/HEAD"):
        R.check(f".dockerignore excludes {sample}", ignored(sample, patterns))
    for sample in ("CMakeLists.txt", "src/main.cpp", "scripts/build.sh", "scripts/bootstrap.sh",
                   "scripts/container-entrypoint.sh", "profiles/study.txt", "dashboard/package.json",
                   "dashboard/package-lock.json", "src/db_api/swagger/package-lock.json"):
        R.check(f".dockerignore keeps {sample}", not ignored(sample, patterns))


def apt_archive_usable():
    """Why the apt sub-checks cannot run on this machine, or None when they can."""
    codename = ""
    try:
        for line in open("/etc/os-release", encoding="utf-8"):
            if line.startswith("VERSION_CODENAME="):
                codename = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    if codename != "bookworm":
        return f"this machine is not Debian bookworm ({codename or 'unknown'}): its apt lists say nothing of bookworm"
    if not shutil.which("apt-cache"):
        return "no apt-cache"
    if not glob.glob("/var/lib/apt/lists/*bookworm*_Packages*"):
        return "no apt lists (run apt-get update)"
    return None


def check_packages(info):
    packages = info.get("packages") or []
    why = apt_archive_usable()
    if why:
        R.skip("runtime apt packages exist in Debian bookworm", why)
        return None
    for package in packages:
        out = run(["apt-cache", "madison", package]).stdout
        R.check(f"runtime package {package} is in the Debian bookworm archive", "bookworm" in out,
                "apt-cache madison found nothing")
    out = run(["apt-cache", "depends", "--recurse", "--no-recommends", "--no-suggests", "--no-conflicts",
               "--no-breaks", "--no-replaces", "--no-enhances"] + packages).stdout
    closure = {line.strip() for line in out.splitlines() if line and not line[0].isspace() and "<" not in line}
    return closure | SLIM_BASE


def modules_named_by(binary):
    """The meta_db_*.so file names in the built binary (what it passes to the module loader); empty if unreadable."""
    try:
        with open(binary, "rb") as f:
            data = f.read()
    except OSError:
        return set()
    return {m.decode() for m in MODULE_NAME.findall(data)}


def find_built(repo, binary_arg, module_args):
    """(binary, {module file name: path}, origin): the modules are MODULES, those the binary names and those of
    --module; each at its --module path, else beside the binary (META_DB_BUILD_DIR: always in that directory)."""
    build_dir = os.environ.get("META_DB_BUILD_DIR")
    given = {os.path.basename(m): m for m in module_args or []}
    names = set(MODULES) | set(given)
    if build_dir:
        binary, origin = os.path.join(build_dir, "meta_db"), "META_DB_BUILD_DIR"
        given = {}
    elif binary_arg and os.path.exists(binary_arg):
        binary, origin = binary_arg, "--binary"
    else:
        binary, origin = os.path.join(repo, "build/meta_db"), "build/"
    names |= modules_named_by(binary)
    directory = os.path.dirname(binary)
    return binary, {name: given.get(name) or os.path.join(directory, name) for name in sorted(names)}, origin


def owning_package(path):
    candidates = [path, os.path.realpath(path)]
    for p in list(candidates):
        if p.startswith("/usr/lib/"):
            candidates.append(p[len("/usr"):])
        elif p.startswith("/lib"):
            candidates.append("/usr" + p)
    for candidate in candidates:
        result = run(["dpkg", "-S", candidate])
        if result.returncode == 0:
            for line in result.stdout.splitlines():
                owners, _, owned = line.rpartition(": ")
                if owned.strip() == candidate:
                    return [o.strip().split(":")[0] for o in owners.split(",")]
    return None


def check_runtime_libraries(repo, closure, built):
    binary, modules, origin = built
    if not os.path.exists(binary):
        R.skip("runtime packages provide every library of the built binary", f"no built binary ({binary})")
        return
    extra = sorted(os.path.basename(p) for p in glob.glob(os.path.join(os.path.dirname(binary), "meta_db_*.so"))
                   if os.path.basename(p) not in modules)
    if extra:
        print(f"NOTE {', '.join(extra)} beside the binary but not named by it: not required in the image")
    present = True
    for name, module in modules.items():
        beside = os.path.dirname(os.path.abspath(module)) == os.path.dirname(os.path.abspath(binary))
        present &= R.check(f"built binary ({origin}) has {name} {'beside it' if beside else f'at {module}'}",
                           os.path.exists(module), module)
    if not present:
        return
    if closure is None:
        R.skip("runtime packages provide every library of the built binary", "the apt lists are not usable here")
        return
    if not shutil.which("ldd") or not shutil.which("dpkg"):
        R.skip("runtime packages provide every library of the built binary", "no ldd or dpkg")
        return
    libraries, users = {}, {}  # library name -> resolved path; -> the targets that load it
    for target in [binary] + list(modules.values()):
        label = os.path.basename(target)
        result = run(["ldd", target])
        if result.returncode != 0:
            R.check(f"ldd {label}", False, result.stderr.strip())
            continue
        missing = []
        for line in result.stdout.splitlines():
            line = line.strip()
            if "=> not found" in line:
                missing.append(line.split()[0])
                continue
            match = re.match(r"(\S+)\s+=>\s+(\S+)\s+\(", line) or re.match(r"(/\S+)\s+\(", line)
            if match:
                name = os.path.basename(match.group(1))
                libraries[name] = match.groups()[-1]
                users.setdefault(name, []).append(label)
        R.check(f"ldd {label}: every library resolves", not missing, f"not found: {missing}")
    sanitizer = sorted(n for n in libraries if re.match(r"lib(a|ub|l|t|hwa)san\.", n))
    if sanitizer:
        print(f"NOTE sanitizer build: {', '.join(sanitizer)} are not expected in the release image")
    for name in sorted(set(libraries) - set(sanitizer)):
        owners = owning_package(libraries[name])
        if owners is None:
            R.check(f"runtime library {name} comes from a Debian package", False,
                    f"{libraries[name]} belongs to no installed package")
            continue
        R.check(f"runtime library {name} ({'/'.join(owners)}) is installed by the runtime stage",
                any(o in closure for o in owners),
                f"{libraries[name]} from {owners}, loaded by {', '.join(users[name])}: "
                "add it to the runtime apt list")


def check_compose(repo):
    path = os.path.join(repo, "docker-compose.yml")
    text = open(path, encoding="utf-8").read()
    compose = load_yaml(text)
    try:
        import yaml  # noqa: PLC0415 - optional cross-check
    except ImportError:
        print("NOTE PyYAML not installed: docker-compose.yml read with the built-in YAML reader only")
    else:
        R.check("docker-compose.yml reads the same with PyYAML as with the built-in reader",
                yaml.safe_load(text) == compose, "the built-in reader disagrees: keep the file to plain YAML")
    services = compose.get("services") or {}
    declared_volumes = set((compose.get("volumes") or {}).keys())

    for name in ("mongo", "api", "ingest"):
        R.check(f"compose: service {name} exists", name in services, f"services: {sorted(services)}")
    mongo = services.get("mongo") or {}
    R.check("compose: mongo uses the official image mongo:", str(mongo.get("image", "")).startswith("mongo:"),
            str(mongo.get("image")))
    data = [s for s, t, _ in volume_entries(mongo) if t.rstrip("/") == "/data/db"]
    R.check("compose: mongo keeps /data/db in a named volume", bool(data) and all(map(is_named_volume, data)),
            f"{mongo.get('volumes')}")
    test = (mongo.get("healthcheck") or {}).get("test")
    test_text = " ".join(test) if isinstance(test, list) else str(test or "")
    R.check("compose: mongo has a healthcheck that pings the server",
            "ping" in test_text and ("mongosh" in test_text or "mongo " in test_text), test_text)

    api, ingest = services.get("api") or {}, services.get("ingest") or {}
    for name, service in (("api", api), ("ingest", ingest)):
        uri = environment(service).get("META_DB_URI", "")
        R.check(f"compose: {name} has META_DB_URI=mongodb://mongo...", re.match(r"mongodb://mongo[:/,]", uri)
                is not None, uri)
        R.check(f"compose: {name} depends on mongo being healthy", depends_healthy(service, "mongo"),
                f"{service.get('depends_on')}")
    R.check("compose: api runs `serve`", "serve" in command_words(api), f"{api.get('command')}")
    R.check("compose: api publishes a port", bool(api.get("ports")))
    R.check("compose: ingest runs `ingest`", "ingest" in command_words(ingest), f"{ingest.get('command')}")
    R.check('compose: ingest runs once (restart: "no")', ingest.get("restart", "no") in ("no", False),
            f"{ingest.get('restart')!r}")
    archive = [(s, ro) for s, t, ro in volume_entries(ingest) if t.rstrip("/") == ARCHIVE_MOUNT]
    R.check(f"compose: ingest mounts the archive read-only at {ARCHIVE_MOUNT}",
            bool(archive) and all(ro for _, ro in archive) and not any(is_named_volume(s) for s, _ in archive),
            f"{ingest.get('volumes')}")

    sqlite = [n for n, s in services.items() if "sqlite" in (s.get("profiles") or [])]
    R.check("compose: a service under the profile `sqlite` keeps the single-container path", bool(sqlite))
    for name in sqlite:
        service = services[name]
        R.check(f"compose: {name} uses META_DB_URI=sqlite:/data/...",
                environment(service).get("META_DB_URI", "").startswith("sqlite:/data/"))
        R.check(f"compose: {name} keeps /data in a volume",
                any(t.rstrip("/") == "/data" for _, t, _ in volume_entries(service)))

    for name, service in services.items():
        R.check(f"compose: {name} is not on the host network", service.get("network_mode") != "host")
        problems = [p for p in map(port_problem, service.get("ports") or []) if p]
        R.check(f"compose: {name} publishes ports on 127.0.0.1 only", not problems, "; ".join(problems))
        for source, _, _ in volume_entries(service):
            if is_named_volume(source):
                R.check(f"compose: {name}'s volume {source} is declared", source in declared_volumes)
        build = service.get("build")
        if build is not None:
            context = build if isinstance(build, str) else build.get("context", ".")
            dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
            R.check(f"compose: {name} builds from an existing Dockerfile",
                    os.path.exists(os.path.join(repo, context, dockerfile)), f"{context}/{dockerfile}")


def check_admin_token(repo, compose=None):
    """The API's admin token comes from an .env file: referenced by every serving service, never checked in."""
    if compose is None:
        compose = load_yaml(open(os.path.join(repo, "docker-compose.yml"), encoding="utf-8").read())
    services = compose.get("services") or {}
    serving = [n for n, s in services.items() if "serve" in command_words(s) or n == "meta_db" or s.get("ports")]
    R.check("compose: the serving services are found", bool(serving), f"services: {sorted(services)}")
    for name in serving:
        value = environment(services[name]).get("META_DB_ADMIN_TOKEN", "")
        R.check(f"compose: {name} takes META_DB_ADMIN_TOKEN from .env and refuses to start without it",
                value.startswith("${META_DB_ADMIN_TOKEN:?"), repr(value))
    example = os.path.join(repo, ".env.example")
    if R.check(".env.example is checked in", os.path.exists(example)):
        lines = [l.strip() for l in open(example, encoding="utf-8") if l.strip() and not l.strip().startswith("#")]
        values = dict(l.partition("=")[::2] for l in lines)
        R.check(".env.example names META_DB_ADMIN_TOKEN without a value (no secret in git)",
                "META_DB_ADMIN_TOKEN" in values and values["META_DB_ADMIN_TOKEN"] == "", f"{values}")
    gitignore = [l.strip() for l in open(os.path.join(repo, ".gitignore"), encoding="utf-8")]
    R.check(".gitignore ignores .env", "/.env" in gitignore or ".env" in gitignore)
    R.check(".env is not checked in", not os.path.exists(os.path.join(repo, ".env"))
            or subprocess.run(["git", "-C", repo, "ls-files", "--error-unmatch", ".env"],
                              capture_output=True).returncode != 0)
    patterns = ignore_patterns(open(os.path.join(repo, ".dockerignore"), encoding="utf-8").read())
    R.check(".dockerignore keeps .env out of the image", ignored(".env", patterns))
    text = open(os.path.join(repo, "docker-compose.yml"), encoding="utf-8").read()
    R.check("docker-compose.yml documents the .env file", ".env.example" in text and "openssl rand" in text)


FAKE_META_DB = """#!/usr/bin/env bash
# Logs how it was called; `synth --out DIR` leaves DIR/manifest.json; exits 3 when called as $FAKE_FAIL.
echo "URI=$META_DB_URI $*" >> "$FAKE_LOG"
command=${1:-}
if [[ $command == synth ]]; then
  while [[ $# -gt 0 ]]; do [[ $1 == --out ]] && { mkdir -p "$2"; echo '{}' > "$2/manifest.json"; }; shift; done
fi
if [[ -n ${FAKE_FAIL:-} && $FAKE_FAIL == "$command" ]]; then exit 3; fi
exit 0
"""


def check_entrypoint(repo, info):
    path = os.path.join(repo, "scripts/container-entrypoint.sh")
    if not R.check("scripts/container-entrypoint.sh exists", os.path.exists(path)):
        return
    result = run(["bash", "-n", path])
    R.check("scripts/container-entrypoint.sh passes bash -n", result.returncode == 0, result.stderr.strip())
    R.check("scripts/container-entrypoint.sh is executable", bool(os.stat(path).st_mode & stat.S_IXUSR))
    text = open(path, encoding="utf-8").read()
    knobs = set(re.findall(r"\$\{?(META_DB_[A-Z_]+)", open(os.path.join(repo, "scripts/run.sh")).read()))
    unused = sorted(k for k in knobs if k not in text)
    R.check("scripts/container-entrypoint.sh honours every knob of scripts/run.sh", not unused, f"missing {unused}")
    R.check("scripts/container-entrypoint.sh does not build", "build.sh" not in text and "cmake" not in text)

    with tempfile.TemporaryDirectory(prefix="meta_db-deploy-test.") as tmp:
        fake_bin = os.path.join(tmp, "bin")
        os.mkdir(fake_bin)
        fake = os.path.join(fake_bin, "meta_db")
        with open(fake, "w", encoding="utf-8") as f:
            f.write(FAKE_META_DB)
        os.chmod(fake, 0o755)
        archive, empty = os.path.join(tmp, "archive"), os.path.join(tmp, "empty")
        os.makedirs(os.path.join(archive, "LIDC-IDRI-0001"))
        os.mkdir(empty)
        demo, log = os.path.join(tmp, "demo"), os.path.join(tmp, "log")
        web_root = info.get("env", {}).get("META_DB_WEB_ROOT", "/opt/meta_db/dashboard/dist")

        def entry(args, **env):
            if os.path.exists(log):
                os.remove(log)
            base = {k: v for k, v in os.environ.items() if not k.startswith("META_DB_")}
            base.update(PATH=fake_bin + os.pathsep + os.environ.get("PATH", ""), FAKE_LOG=log,
                        META_DB_DEMO_ARCHIVE=demo, META_DB_WEB_ROOT=web_root)
            base.update(env)
            result = run(["bash", path] + args, env=base, timeout=60)
            lines = open(log, encoding="utf-8").read().splitlines() if os.path.exists(log) else []
            return result.returncode, lines

        code, lines = entry([], META_DB_ARCHIVE=empty, META_DB_DEMO_PATIENTS="3")
        expected = [f"URI=sqlite:/data/meta_db.sqlite synth --patients 3 --out {demo} --small",
                    f"URI=sqlite:/data/meta_db.sqlite ingest {demo} --collection LIDC-IDRI",
                    "URI=sqlite:/data/meta_db.sqlite stats",
                    f"URI=sqlite:/data/meta_db.sqlite serve --host 0.0.0.0 --port 8000 --web-root {web_root}"]
        R.check("entrypoint (no argument, empty archive): synth a demo, ingest it, stats, serve",
                code == 0 and lines == expected, f"exit {code}, ran {lines}")
        code, lines = entry(["ingest"], META_DB_ARCHIVE=archive, META_DB_URI="mongodb://mongo:27017/meta_db",
                            META_DB_COLLECTION="C1")
        R.check("entrypoint ingest: only `meta_db ingest ARCHIVE --collection` against META_DB_URI",
                code == 0 and lines == [f"URI=mongodb://mongo:27017/meta_db ingest {archive} --collection C1"],
                f"exit {code}, ran {lines}")
        code, lines = entry(["ingest", "--shard", "1/4", "--collection", "X"], META_DB_ARCHIVE=archive)
        R.check("entrypoint ingest ARGS: passes them on without duplicating an option",
                lines == [f"URI=sqlite:/data/meta_db.sqlite ingest {archive} --shard 1/4 --collection X"], f"{lines}")
        code, lines = entry(["serve", "--port", "9000"], META_DB_HOST="127.0.0.1")
        R.check("entrypoint serve ARGS: serve only, defaults for the options not given",
                code == 0 and lines == [f"URI=sqlite:/data/meta_db.sqlite serve --host 127.0.0.1 --web-root "
                                        f"{web_root} --port 9000"], f"exit {code}, ran {lines}")
        code, lines = entry(["extract", archive, "--threads", "2"])
        R.check("entrypoint anything else: a meta_db sub-command",
                code == 0 and lines == [f"URI=sqlite:/data/meta_db.sqlite extract {archive} --threads 2"],
                f"exit {code}, {lines}")
        code, lines = entry([], META_DB_ARCHIVE=archive, FAKE_FAIL="ingest")
        R.check("entrypoint: a failed ingest stops it with meta_db's exit code (nothing is served)",
                code == 3 and not any(" serve " in f"{line} " for line in lines), f"exit {code}, ran {lines}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", default=os.path.normpath(os.path.join(os.path.dirname(__file__), "../..")))
    parser.add_argument("--binary", default="")
    parser.add_argument("--module", action="append", default=[],
                        help="a module to ldd (repeatable); modules not given are looked for beside the binary")
    options = parser.parse_args()
    repo = os.path.abspath(options.repo)
    built = find_built(repo, options.binary, [m for m in options.module if m])
    info = {"modules": sorted(built[1])}
    R.section("Dockerfile", check_dockerfile, repo, info)
    R.section(".dockerignore", check_dockerignore, repo)
    closure = R.section("runtime packages", check_packages, info)
    R.section("runtime libraries", check_runtime_libraries, repo, closure, built)
    R.section("docker-compose.yml", check_compose, repo)
    R.section("admin token from .env", check_admin_token, repo)
    R.section("entrypoint", check_entrypoint, repo, info)
    summary = f"{R.passed} passed, {R.failed} failed"
    print(summary + (f", {R.skipped} skipped" if R.skipped else ""))
    return 1 if R.failed else 0


if __name__ == "__main__":
    sys.exit(main())
