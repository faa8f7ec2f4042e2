"""Where two JSON documents differ, as readable paths (`data[3].attributes.code: ...`)."""

from __future__ import annotations


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def differences(service, baseline, path: str = "") -> list[str]:
    if isinstance(service, dict) and isinstance(baseline, dict):
        found = []
        for key in sorted(set(service) | set(baseline), key=str):
            where = f"{path}.{key}" if path else str(key)
            if key not in baseline:
                found.append(f"{where}: only in the service's document")
            elif key not in service:
                found.append(f"{where}: only in the baseline's document")
            else:
                found.extend(differences(service[key], baseline[key], where))
        return found
    if isinstance(service, list) and isinstance(baseline, list):
        found = []
        if len(service) != len(baseline):
            found.append(f"{path}: {len(service)} items in the service's, {len(baseline)} here")
        for index, (left, right) in enumerate(zip(service, baseline, strict=False)):
            found.extend(differences(left, right, f"{path}[{index}]"))
        return found
    if service != baseline or type(service) is not type(baseline):
        return [f"{path}: service {_short(service)}, baseline {_short(baseline)}"]
    return []
