"""Redis ACL rules: checking what a manifest declares, reading `ACL LIST`, comparing by meaning.

Redis rewrites the rules it is given (`ACL SETUSER u +@read -@dangerous` is stored as
`-@all +@read -keys -sort_ro`; `%RW~x` as `~x`; `allchannels` as `&*`), so two rule lists are
compared by what they allow, never as text:

* key and channel patterns by the set of (pattern, permissions) they grant (`canonical_keys`,
  `canonical_channels`), which needs nothing from the server;
* command rules by the set of commands they allow (`allowed_commands`), which needs the server's
  command table and categories (`CommandTable`, read by the driver with `COMMAND LIST` and
  `ACL CAT`).

Passwords are compared through the SHA-256 hashes Redis keeps (`#<hex>` in `ACL LIST`); the plain
text never leaves the compiler, which hashes it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from topoctl.providers.secrets import NO_PASSWORD as NO_PASSWORD
from topoctl.providers.secrets import SENSITIVE as SENSITIVE
from topoctl.providers.secrets import SENSITIVE_CHANGED as SENSITIVE_CHANGED
from topoctl.providers.secrets import SENSITIVE_DIFFERENT as SENSITIVE_DIFFERENT

# What a manifest may write in each list (anything else would smuggle in another kind of rule).
KEY_PREFIXES = ("~", "%R~", "%W~", "%RW~", "%WR~")
KEY_WORDS = ("allkeys", "resetkeys")
CHANNEL_WORDS = ("allchannels", "resetchannels")
COMMAND_WORDS = ("allcommands", "nocommands")

# Shown instead of any password or hash, in plans, plan files and exports (besides the stand-ins
# every provider shares, imported above from topoctl.providers.secrets).
NOPASS = "(nopass: any password)"


def password_hash(password: str) -> str:
    """What `ACL GETUSER` lists for a password, and what `ACL SETUSER u #<hash>` accepts."""
    return hashlib.sha256(password.encode()).hexdigest()


# -- checking declared rules ---------------------------------------------------------------------


def check_key(rule: str) -> str | None:
    """Why `rule` is not a key pattern rule, or None."""
    if rule in KEY_WORDS:
        return None
    if rule.startswith(KEY_PREFIXES) and len(rule) > rule.index("~") + 1:
        return None
    return "a key pattern is written ~pattern, %R~pattern (read only), %W~pattern (write only) or allkeys"


def check_channel(rule: str) -> str | None:
    if rule in CHANNEL_WORDS or (rule.startswith("&") and len(rule) > 1):
        return None
    return "a channel pattern is written &pattern or allchannels"


def check_command(rule: str) -> str | None:
    if rule.lower() in COMMAND_WORDS:
        return None
    if rule[:1] in "+-" and len(rule) > 1 and " " not in rule:
        if rule[1:2] == "@" and len(rule) == 2:
            return "a category needs its name: +@read, -@dangerous"
        return None
    return "a command rule is written +command, -command, +@category, -@category, allcommands or nocommands"


# -- canonical forms -------------------------------------------------------------------------------


def _key_parts(rule: str) -> tuple[str, frozenset[str]]:
    """`%R~audit:*` -> ("audit:*", {"R"}); `~x` -> ("x", {"R", "W"})."""
    if rule == "allkeys":
        return "*", frozenset("RW")
    perms, _, pattern = rule.partition("~")
    letters = frozenset(perms[1:]) if perms.startswith("%") else frozenset("RW")
    return pattern, letters


def canonical_keys(rules: Iterable[str]) -> list[str]:
    """The key patterns as Redis stores them, in a stable order: permissions merged per pattern,
    `allkeys` as `~*`, and nothing beside a `~*` (it grants every key already)."""
    grants: dict[str, set[str]] = {}
    for rule in rules:
        if rule == "resetkeys":
            grants.clear()
            continue
        pattern, letters = _key_parts(rule)
        grants.setdefault(pattern, set()).update(letters)
    if grants.get("*") == {"R", "W"}:
        return ["~*"]
    out = []
    for pattern in sorted(grants):
        granted = grants[pattern]
        out.append(f"~{pattern}" if granted == {"R", "W"} else f"%{''.join(sorted(granted))}~{pattern}")
    return out


def canonical_channels(rules: Iterable[str]) -> list[str]:
    patterns: set[str] = set()
    for rule in rules:
        if rule == "resetchannels":
            patterns.clear()
        elif rule == "allchannels":
            patterns.add("*")
        else:
            patterns.add(rule[1:])
    if "*" in patterns:
        return ["&*"]
    return [f"&{p}" for p in sorted(patterns)]


@dataclass(frozen=True)
class CommandTable:
    """The server's commands (subcommands as `parent|sub`) and categories, lower case."""

    commands: frozenset[str]
    categories: Mapping[str, frozenset[str]]
    children: Mapping[str, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def of(cls, commands: Iterable[str], categories: Mapping[str, Iterable[str]]) -> CommandTable:
        names = frozenset(c.lower() for c in commands)
        children: dict[str, set[str]] = {}
        for name in names:
            parent, bar, _ = name.partition("|")
            if bar:
                children.setdefault(parent, set()).add(name)
        cats = {k.lower(): frozenset(v.lower() for v in members) for k, members in categories.items()}
        return cls(names, cats, {k: frozenset(v) for k, v in children.items()})

    def expand(self, name: str) -> frozenset[str]:
        """A command -> what it allows: a container command (CONFIG) is all its subcommands."""
        name = name.lower()
        return self.children.get(name, frozenset({name}))

    @property
    def everything(self) -> frozenset[str]:
        return frozenset(n for n in self.commands if n not in self.children)


def allowed_commands(rules: Sequence[str], table: CommandTable) -> frozenset[str]:
    """The commands a list of rules allows, applied in order from nothing (a new user's `-@all`).
    A first-argument rule (`+select|0`) or unknown category stays an item of its own, so it still
    compares equal only to itself."""
    allowed: set[str] = set()
    for raw in rules:
        rule = raw.lower()
        if rule in ("allcommands", "+@all"):
            allowed = set(table.everything)
            continue
        if rule in ("nocommands", "-@all"):
            allowed.clear()
            continue
        sign, name = rule[:1], rule[1:]
        if name.startswith("@"):
            members = table.categories.get(name[1:])
            found: set[str] = set() if members is not None else {name}
            for member in members or ():
                found |= table.expand(member)
        else:
            found = set(table.expand(name))
        if sign == "+":
            allowed |= found
        else:
            allowed -= found
            if not name.startswith("@") and "|" not in name:
                # `-select` also drops the first-argument rules `+select|0` allowed.
                allowed = {a for a in allowed if not a.startswith(name + "|")}
    return frozenset(allowed)


# -- ACL LIST ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LiveUser:
    """One line of `ACL LIST`, split into the parts topoctl manages."""

    name: str
    enabled: bool
    nopass: bool
    hashes: frozenset[str]
    keys: tuple[str, ...]
    channels: tuple[str, ...]
    commands: tuple[str, ...]
    selectors: tuple[str, ...] = ()


def _tokens(text: str) -> list[str]:
    """Split on spaces, keeping a parenthesised selector `(~x +get)` as one token."""
    out: list[str] = []
    depth = 0
    current = ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(0, depth - 1)
        if ch == " " and depth == 0:
            if current:
                out.append(current)
            current = ""
            continue
        current += ch
    if current:
        out.append(current)
    return out


def parse_acl_line(line: str) -> LiveUser | None:
    """`user alice on #<hash> ~orders:* resetchannels &events.* -@all +@read` -> LiveUser."""
    tokens = _tokens(line)
    if len(tokens) < 2 or tokens[0] != "user":
        return None
    name = tokens[1]
    enabled = nopass = False
    hashes: set[str] = set()
    keys: list[str] = []
    channels: list[str] = []
    commands: list[str] = []
    selectors: list[str] = []
    for token in tokens[2:]:
        if token == "on":
            enabled = True
        elif token == "off":
            enabled = False
        elif token == "nopass":
            nopass = True
        elif token.startswith("#"):
            hashes.add(token[1:])
        elif token.startswith(("~", "%")) or token in KEY_WORDS:
            keys.append(token)
        elif token.startswith("&") or token in CHANNEL_WORDS:
            channels.append(token)
        elif token.startswith(("+", "-")) or token in COMMAND_WORDS:
            commands.append(token)
        elif token.startswith("("):
            selectors.append(token)
        # Anything else is a flag topoctl does not manage (sanitize-payload, ...).
    return LiveUser(
        name,
        enabled,
        nopass,
        frozenset(hashes),
        tuple(canonical_keys(keys)),
        tuple(canonical_channels(channels)),
        tuple(commands),
        tuple(selectors),
    )


# -- ACL SETUSER ---------------------------------------------------------------------------------------


def setuser_rules(
    attrs: Mapping[str, object], hashes: Sequence[str] | None, fields: Iterable[str] | None = None
) -> list[str]:
    """The `ACL SETUSER` arguments that make a user's declared `fields` (all declared ones when
    None) what `attrs` says, leaving undeclared ones alone. `hashes`: the declared passwords."""
    wanted = set(attrs) if fields is None else set(fields) & set(attrs)
    rules: list[str] = []
    if "enabled" in wanted:
        rules.append("on" if attrs["enabled"] else "off")
    if "passwords" in wanted and hashes is not None:
        rules.append("resetpass")
        rules += [f"#{h}" for h in hashes]
    if "keys" in wanted:
        rules.append("resetkeys")
        rules += _as_list(attrs["keys"])
    if "channels" in wanted:
        rules.append("resetchannels")
        rules += _as_list(attrs["channels"])
    if "commands" in wanted:
        rules.append("nocommands")
        rules += _as_list(attrs["commands"])
    return rules


def _as_list(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []
