"""The interface every notifier shares: send one rendered message, or raise
NotifierError saying whether trying again could help."""

from dataclasses import dataclass


class NotifierError(Exception):
    def __init__(self, message: str, *, permanent: bool = False, status_code: int | None = None):
        super().__init__(message)
        self.permanent = permanent
        self.status_code = status_code


@dataclass(frozen=True)
class Message:
    """One event about one alert instance, as the runner fixed it (see runner.message_payload)."""

    notification_id: int
    payload: dict

    @property
    def event(self) -> str:
        return self.payload["event"]

    @property
    def alert_name(self) -> str:
        return self.payload["alert"]["name"]

    @property
    def title(self) -> str:
        key = self.payload.get("instance_key")
        name = f"{self.alert_name} [{key}]" if key else self.alert_name
        return f"[{self.event.upper()}] {name}"


class Notifier:
    kind = ""

    def __init__(self, config: dict):
        self.config = config

    def send(self, message: Message) -> None:
        raise NotImplementedError

    def secrets(self) -> list[str]:
        """Values from the config that must never appear in errors or logs."""
        return []
