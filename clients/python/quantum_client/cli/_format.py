"""Results in the formats of openstackclient: ``-f table|value|json|yaml|csv`` and ``-c``.

A resource is a list of fields in its message's declared order, nested fields dotted
(``qos.rate_kbps``), every field present whether set or not: one shape for every resource
of a kind. ``json`` and ``yaml`` keep the API's values (``PORT_STATUS_ACTIVE``, numbers,
booleans); ``table``, ``value`` and ``csv`` show the short labels (``ACTIVE``).
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from rich.console import Console
from rich.table import Column, Table
from rich.text import Text

from quantum_client import _render
from quantum_client.cli._find import short
from quantum_client.types import Network, Port

Row = dict[str, Any]


class UnknownColumn(Exception):
    """``-c`` named a column the output does not have."""


def _enum_short(field: FieldDescriptor, name: Any) -> Any:
    if not isinstance(name, str) or field.enum_type is None:
        return name
    prefix = field.enum_type.values[0].name.removesuffix("UNSPECIFIED")
    return name.removeprefix(prefix)


def fields(message: Message) -> list[tuple[str, Any, FieldDescriptor]]:
    """Every field of ``message`` in declared order (nested ones dotted), with its JSON value."""
    data = _render.as_dict(message)
    found: list[tuple[str, Any, FieldDescriptor]] = []

    def walk(descriptor: Any, values: dict[str, Any], prefix: str) -> None:
        for field in descriptor.fields:
            value = values.get(field.name)
            nested = field.message_type
            if nested is not None and nested.full_name.startswith("quantum."):
                walk(nested, value if isinstance(value, dict) else {}, f"{prefix}{field.name}.")
            else:
                found.append((f"{prefix}{field.name}", value, field))

    walk(message.DESCRIPTOR, data, "")
    return found


def ordered(message: Message) -> dict[str, Any]:
    """``message`` as JSON-ready data with its fields in declared order (YAML keeps it)."""
    data = _render.as_dict(message)

    def walk(descriptor: Any, values: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for field in descriptor.fields:
            if field.name not in values:
                continue
            value = values[field.name]
            nested = field.message_type
            if nested is not None and isinstance(value, dict):
                value = walk(nested, value) if nested.full_name.startswith("quantum.") else value
            result[field.name] = value
        return result

    return walk(message.DESCRIPTOR, data)


def display(value: Any, field: FieldDescriptor | None = None) -> str:
    """A JSON value as the table, value and csv formats show it."""
    if value is None:
        return ""
    if field is not None and field.enum_type is not None:
        value = _enum_short(field, value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


@dataclass(frozen=True)
class ListColumn:
    """A column of a list: its header, the field it shows (for json/yaml and ``-c``), and
    how its cell reads from the resource."""

    header: str
    key: str
    cell: Callable[[Any], str]


def _attr(name: str) -> Callable[[Any], str]:
    return lambda resource: display(getattr(resource, name))


def _status(resource: Network | Port) -> str:
    return _render.status_cell(resource).plain


TENANT = ListColumn("TENANT", "tenant_id", _attr("tenant_id"))
NETWORK_COLUMNS = (
    ListColumn("ID", "id", _attr("id")),
    ListColumn("NAME", "name", _attr("name")),
    ListColumn("STATUS", "status", _status),
    ListColumn("REVISION", "revision", _attr("revision")),
    ListColumn("BACKEND", "backend", _attr("backend")),
    ListColumn("ERROR", "error", _render.error_label),
)
PORT_COLUMNS = (
    ListColumn("ID", "id", _attr("id")),
    ListColumn("NETWORK", "network_id", _attr("network_id")),
    ListColumn("ADMIN", "admin_state_up", lambda p: "up" if p.admin_state_up else "down"),
    ListColumn("STATUS", "status", _status),
    ListColumn("LINK", "link_status", _render.link_label),
    ListColumn("REASON", "link_status_reason", lambda p: p.link_status_reason or ""),
    ListColumn("INTERFACE", "interface_id", _attr("interface_id")),
    ListColumn("QOS", "qos", _render.qos_label),
    ListColumn("REVISION", "revision", _attr("revision")),
)
ID_HEADERS = {"ID", "NETWORK"}


def _matches(wanted: str, *names: str) -> bool:
    return wanted.lower() in (n.lower() for n in names)


def _choose(wanted: Sequence[str], available: Sequence[tuple[str, ...]]) -> list[int]:
    """Indexes of the ``wanted`` columns among ``available`` (each: its names)."""
    chosen = []
    for name in wanted:
        hits = [i for i, names in enumerate(available) if _matches(name, *names)]
        if not hits:
            known = ", ".join(names[-1] for names in available)
            raise UnknownColumn(f"no column {name!r}; columns: {known}")
        chosen.append(hits[0])
    return chosen


def _yaml_scalar(value: Any) -> str:
    # JSON's scalars are YAML's: a JSON-quoted string is a YAML double-quoted one.
    if isinstance(value, str) and value and value.replace("_", "").replace(".", "").isalnum():
        plain = value.lower() not in ("true", "false", "null", "yes", "no", "on", "off")
        return value if plain and not value[0].isdigit() else json.dumps(value)
    return json.dumps(value)


def yaml_lines(data: Any, indent: str = "") -> list[str]:
    """``data`` (JSON-ready) as block YAML lines."""
    if isinstance(data, dict):
        if not data:
            return [f"{indent}{{}}"]
        lines = []
        for key, value in data.items():
            if isinstance(value, dict | list) and value:
                lines.append(f"{indent}{key}:")
                lines += yaml_lines(value, indent + "  ")
            else:
                lines.append(f"{indent}{key}: {_yaml_scalar(value) if value != {} else '{}'}")
        return lines
    if isinstance(data, list):
        if not data:
            return [f"{indent}[]"]
        lines = []
        for item in data:
            inner = yaml_lines(item, indent + "  ")
            lines.append(f"{indent}- {inner[0].lstrip()}")
            lines += inner[1:]
        return lines
    return [f"{indent}{_yaml_scalar(data)}"]


class Output:
    """Prints results in the chosen format to stdout; spinners and notes go to stderr."""

    def __init__(
        self, mode: str = "table", columns: Sequence[str] = (), *, wide: bool = False,
        admin: bool = False,
    ) -> None:  # fmt: skip
        self.mode = mode
        self.columns = list(columns)
        self.wide = wide
        self.admin = admin
        # A pipe gets the whole table rather than one cut to 80 columns.
        width = None if sys.stdout.isatty() else 250
        self.console = Console(highlight=False, width=width)
        self.err = Console(stderr=True, highlight=False)

    @property
    def json(self) -> bool:
        """Whether output is one JSON document per line (``-f json``)."""
        return self.mode == "json"

    @property
    def machine(self) -> bool:
        """Whether stdout is for a program (anything but ``table``)."""
        return self.mode != "table"

    def line(self, data: Any) -> None:
        """One JSON document on one line, flushed at once (for streams and pipes)."""
        print(_render.dumps(data), flush=True)

    def document(self, data: dict[str, Any]) -> None:
        """A small document not from a message, in the chosen format."""
        if self.mode in ("json", "yaml"):
            self._structured(data)
        elif self.mode == "csv":
            self._csv(list(data), [[display(v) for v in data.values()]])
        else:
            for value in data.values():
                print(display(value), flush=True)

    def _structured(self, data: Any) -> None:
        if self.mode == "yaml":
            print("\n".join(yaml_lines(data)), flush=True)
        else:
            self.line(data)

    # -- one resource ------------------------------------------------------------------
    def resource(self, resource: Message, title: str = "") -> None:
        """A resource (or any message): a FIELD/VALUE table, values, or its document."""
        found = fields(resource)
        if self.columns:
            picked = _choose(self.columns, [(name,) for name, _, _ in found])
            found = [found[i] for i in picked]
        if self.mode in ("json", "yaml"):
            if self.columns:
                self._structured({name: value for name, value, _ in found})
            else:
                self._structured(ordered(resource))
        elif self.mode == "value":
            for _, value, field in found:
                print(display(value, field), flush=True)
        elif self.mode == "csv":
            self._csv([name for name, _, _ in found], [[display(v, f) for _, v, f in found]])
        else:
            table = Table("FIELD", "VALUE", title=title or None, show_header=False)
            for name, value, field in found:
                text = display(value, field)
                table.add_row(name, _render.styled(text) if field.enum_type else text)
            self.console.print(table)

    # -- lists -------------------------------------------------------------------------
    def networks(self, networks: Iterable[Network]) -> None:
        """A list of networks."""
        self._list(list(networks), NETWORK_COLUMNS, "networks")

    def ports(self, ports: Iterable[Port]) -> None:
        """A list of ports."""
        self._list(list(ports), PORT_COLUMNS, "ports")

    def _list(self, items: list[Any], base: Sequence[ListColumn], title: str) -> None:
        columns = [TENANT, *base] if self.admin else list(base)
        if self.columns:
            names = [(c.key, c.header) for c in columns]
            columns = [columns[i] for i in _choose(self.columns, names)]
        if self.mode in ("json", "yaml"):
            documents = [ordered(item) for item in items]
            if self.columns:
                documents = [{c.key: d.get(c.key) for c in columns} for d in documents]
            if self.json:
                self.line(documents)
            else:
                self._structured(documents)
            return
        rows = [[c.cell(item) for c in columns] for item in items]
        if self.mode == "value":
            for row in rows:
                print(" ".join(row), flush=True)
        elif self.mode == "csv":
            self._csv([c.header for c in columns], rows)
        else:
            self.console.print(self._table(columns, items, title))

    def _table(self, columns: Sequence[ListColumn], items: list[Any], title: str) -> Table:
        table = Table(
            *(Column(c.header, no_wrap=True, overflow="ellipsis") for c in columns), title=title
        )
        for item in items:
            cells: list[str | Text] = []
            for column in columns:
                text = column.cell(item)
                if column.header in ID_HEADERS and not self.wide:
                    text = short(text)
                styled = column.header in ("STATUS", "LINK")
                cells.append(_render.styled_cell(text) if styled else text)
            table.add_row(*cells)
        return table

    def rows(self, headers: Sequence[str], rows: list[list[str]], title: str) -> None:
        """Rows of text under ``headers`` (``-c`` picks among them)."""
        if self.columns:
            picked = _choose(self.columns, [(h,) for h in headers])
            headers = [headers[i] for i in picked]
            rows = [[row[i] for i in picked] for row in rows]
        if self.mode in ("json", "yaml"):
            self._structured([dict(zip(headers, row, strict=True)) for row in rows])
        elif self.mode == "value":
            for row in rows:
                print(" ".join(row), flush=True)
        elif self.mode == "csv":
            self._csv(headers, rows)
        else:
            table = Table(
                *(Column(h, no_wrap=True, overflow="ellipsis") for h in headers), title=title
            )
            for row in rows:
                table.add_row(*row)
            self.console.print(table)

    def _csv(self, header: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
        sys.stdout.write(buffer.getvalue())
        sys.stdout.flush()

    def summary(self, message: Message, text: str) -> None:
        """A response: a one-line summary in a table, else its document."""
        if self.mode == "table":
            self.console.print(text)
        else:
            self.resource(message)
