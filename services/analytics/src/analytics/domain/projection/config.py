from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ProjectionConfig:
    hash_salt: str = "dev-salt"
    own_hosts: tuple[str, ...] = ()
    medium_map: dict[str, str] = field(default_factory=dict)
    source_map: dict[str, str] = field(default_factory=dict)
