"""Prompt templates: files in ``prompts/``, loaded by name, versioned and hashed.

A template is a Jinja2 file with a header comment (``name``, ``version``) and
two blocks, ``system`` and ``user``. The document text is passed as a
*variable*, so it is inserted verbatim and never evaluated as a template: an
abstract containing ``{{ x }}``, ``{% if %}`` or ``</document>`` reaches the
model unchanged. The fence that surrounds it is derived from the text's hash,
so no text can close it by accident. Every output records the prompt's name,
version and the sha256 of the template file.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.resources
import re
from dataclasses import dataclass

from .models import PromptInfo


class PromptError(ValueError):
    pass


def fence(document: str) -> str:
    """The line that opens and closes a document in a prompt: derived from its hash,
    so no document can contain it by accident."""
    return f"=====DOCUMENT {hashlib.sha256(document.encode('utf-8')).hexdigest()[:12]}====="


# a document between its fence lines, as ``render`` writes it
FENCED_DOCUMENT = re.compile(r"^(=====DOCUMENT [0-9a-f]{12}=====)\n(.*)\n\1$", re.S | re.M)


@dataclass(frozen=True)
class Prompt:
    name: str
    version: str
    sha256: str
    source: str

    @property
    def info(self) -> PromptInfo:
        return PromptInfo(name=self.name, version=self.version, sha256=self.sha256)

    def render(self, document: str) -> list[dict[str, str]]:
        """Chat messages for one document."""
        template = _compiled(self.source)
        ctx = template.new_context({"document": document, "fence": fence(document)})
        system = "".join(template.blocks["system"](ctx)).strip()
        user = "".join(template.blocks["user"](ctx)).strip()
        return [{"role": "system", "content": system}, {"role": "user", "content": user}]


@functools.lru_cache(maxsize=1)
def _environment():
    import jinja2

    # No autoescape: the output is plain text for a model, not HTML. Undefined
    # variables are errors, so a template typo never ships silently.
    return jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=False, autoescape=False)


@functools.lru_cache(maxsize=32)
def _compiled(source: str):
    return _environment().from_string(source)


def available_prompts() -> list[str]:
    root = importlib.resources.files("summarizer.prompts")
    return sorted(p.name[:-3] for p in root.iterdir() if p.name.endswith(".j2"))


@functools.lru_cache(maxsize=None)
def load_prompt(name: str) -> Prompt:
    root = importlib.resources.files("summarizer.prompts")
    path = root.joinpath(f"{name}.j2")
    if not path.is_file():
        raise PromptError(f"no prompt named {name!r}; available: {', '.join(available_prompts()) or 'none'}")
    raw = path.read_bytes()
    source = raw.decode("utf-8")
    header = re.match(r"\{#-?(.*?)-?#\}", source, re.S)
    meta = dict(re.findall(r"^\s*(\w+):\s*(.+?)\s*$", header.group(1), re.M)) if header else {}
    if meta.get("name") != name or "version" not in meta:
        raise PromptError(f"prompt {name!r} needs a header comment with 'name: {name}' and 'version: N'")
    return Prompt(name=name, version=meta["version"], sha256=hashlib.sha256(raw).hexdigest(), source=source)
