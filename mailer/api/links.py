"""OpenAPI links (3.1 § 4.8.20): the id an answer gives is the id the item's own operations
take. A program (or schemathesis' stateful run) follows them from a new client to reading,
changing and deleting it, from a message to its preview, from a mailing to its actions."""
from __future__ import annotations

PREFIX = "/api/v1"
# Where an id comes from (the operation and its answer), and the item paths it opens.
SOURCES = {
    ("/clients", "post", "201"): ("client_id", "/clients/{client_id}"),
    ("/messages", "post", "201"): ("message_id", "/messages/{message_id}"),
    ("/mailings", "post", "201"): ("mailing_id", "/mailings/{mailing_id}"),
    ("/clients/{client_id}", "get", "200"): ("client_id", "/clients/{client_id}"),
    ("/messages/{message_id}", "get", "200"): ("message_id", "/messages/{message_id}"),
    ("/mailings/{mailing_id}", "get", "200"): ("mailing_id", "/mailings/{mailing_id}"),
    ("/attempts/{attempt_id}", "get", "200"): ("attempt_id", "/attempts/{attempt_id}"),
    ("/manager/mailings/{mailing_id}", "get", "200"): ("mailing_id", "/manager/mailings/{mailing_id}"),
}


def _pointer(path: str) -> str:
    return path.replace("~", "~0").replace("/", "~1")


def _link_name(method: str, path: str) -> str:
    words = [part.strip("{}").replace("-", "_").replace(".", "_") for part in path.split("/") if part]
    return method.capitalize() + "".join(word.title().replace("_", "") for word in words)


def add_links(paths: dict) -> None:
    """Add the links of SOURCES to the document's ``paths`` (apispec's, before it is served)."""
    for (source, method, status), (parameter, item_prefix) in SOURCES.items():
        response = paths.get(PREFIX + source, {}).get(method, {}).get("responses", {}).get(status)
        if not isinstance(response, dict):
            continue
        links = response.setdefault("links", {})
        for path, operations in paths.items():
            if not path.startswith(PREFIX + item_prefix):
                continue
            for target_method in operations:
                if target_method not in ("get", "post", "patch", "delete"):
                    continue
                name = _link_name(target_method, path.removeprefix(PREFIX))
                links[name] = {"operationRef": f"#/paths/{_pointer(path)}/{target_method}",
                               "parameters": {parameter: "$response.body#/id"}}
