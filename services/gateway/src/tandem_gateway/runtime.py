"""What the entry points reach through ``app.state.runtime``; assembled by ``create_app``."""

from __future__ import annotations

from dataclasses import dataclass

from .adapters.live import LiveHub
from .service_layer.agent import AgentConsoleService
from .service_layer.agent_auth import AgentAuthService
from .service_layer.fanout import FanoutService
from .service_layer.invitations import InvitationService
from .service_layer.rate_limits import RateLimits
from .service_layer.widget import WidgetService
from .settings import GatewaySettings


@dataclass(frozen=True, slots=True)
class GatewayRuntime:
    settings: GatewaySettings
    widget: WidgetService
    fanout: FanoutService
    hub: LiveHub
    # The agent console; optional so the widget's tests can build a runtime without it.
    agent_auth: AgentAuthService | None = None
    agents: AgentConsoleService | None = None
    # Rate limits; None (tests of single features) means unlimited.
    rate_limits: RateLimits | None = None
    invitations: InvitationService | None = None
