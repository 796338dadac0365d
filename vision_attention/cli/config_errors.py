"""jsonargparse's multi-line reports of a bad config or flag, as one line."""

from __future__ import annotations

import re


def one_line(error: Exception, argv: list[str]) -> str:
    """jsonargparse's multi-line report of a bad config or flag, as one line: where it came
    from (the flag, else the config file), the full key, the class it belongs to, the reason."""
    message = str(error)
    keys, classes, reason = _error_path(message)
    if not keys:  # not about one key: e.g. unrecognized arguments
        lines = [line.strip() for line in message.splitlines() if line.strip()]
        return lines[0] if lines else type(error).__name__
    key = ""
    for i, name in enumerate(keys):
        key += ("." if key else "") + name + (".init_args" if i < len(classes) and i < len(keys) - 1 else "")
    where = key + (f" ({classes[-1]})" if classes else "")
    nested = re.search(r"NestedArg\(key='([^']+)'", message)  # the value came from a flag
    flags = [arg.split("=")[0] for arg in argv if arg.startswith(f"--{keys[0].split('.')[0]}.")]
    flag = next((f for f in flags if f == f"--{key}" or (nested and f.endswith(nested.group(1)))), None)
    if flag:
        return f"{flag}{f' ({classes[-1]})' if classes else ''}: {reason}"
    if keys[0] == "config":
        return f"--config: {reason}"
    configs = [argv[i + 1] for i, arg in enumerate(argv[:-1]) if arg in ("--config", "-c")]
    return f"{configs[-1] + ': ' if configs else ''}{where}: {reason}"


def _error_path(message: str) -> tuple[list[str], list[str], str]:
    """(the nested keys, the class paths on the way, the innermost reason) of a jsonargparse
    error; only the first branch of a Union is followed (the others say "Expected None")."""
    keys: list[str] = []
    classes: list[str] = []
    reason = expected = ""
    for line in message.splitlines():
        text = line.strip().removeprefix("- ")
        if expected and text.startswith("Given value type: "):
            continue
        if expected and text.startswith("Given value: "):  # a Union's first type: the value's own kind
            reason = f"{expected}. Got value: {text.removeprefix('Given value: ')}"
            break
        if text.startswith(("Expected a <class 'NoneType'>", "Given value")):
            break
        if re.fullmatch(r"Expected a (typing\.Literal\[.*\]|<class '\w+'>)", text) and not expected:
            expected = text
        if match := re.match(r'Parser key "([^"]+)":\s*(.*)', text):
            keys.append(match.group(1))
            reason = match.group(2) or reason
        elif match := re.match(r"Problem with given class_path '([^']+)':\s*(.*)", text):
            classes.append(match.group(1))
        elif text and not text.startswith(("Does not validate against any", "Subtypes:", "Errors:")):
            reason = text
    return keys, classes, _plain(reason)


def _plain(reason: str) -> str:
    """jsonargparse's type errors in plain words, with a near class name when one is misspelled."""
    if match := re.match(r"Expected a (?:<class '(\w+)'>|typing\.Literal\[(.*)\])\. Got value: (.*)", reason):
        expected = match.group(1) or "one of " + match.group(2)
        return f"expected {expected}, got {match.group(3)!r}"
    if match := re.match(r"module '([\w.]+)' has no attribute '(\w+)'", reason):
        import difflib
        import importlib

        module, name = match.groups()
        try:
            near = difflib.get_close_matches(name, dir(importlib.import_module(module)), n=1)
        except ImportError:
            near = []
        return f"{module} has no class {name}" + (f" (did you mean {near[0]}?)" if near else "")
    return reason
