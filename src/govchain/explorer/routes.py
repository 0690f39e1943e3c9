"""The explorer's routes: every page, and its static files, mounted into the API application."""

from __future__ import annotations

from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp

from govchain.explorer.context import Explorer
from govchain.explorer.pages_accounts import account_routes
from govchain.explorer.pages_chain import chain_routes
from govchain.explorer.pages_gov import gov_routes
from govchain.explorer.pages_home import home_routes
from govchain.explorer.pages_misc import misc_routes
from govchain.explorer.pages_trace import trace_routes
from govchain.explorer.pages_wr import wr_routes
from govchain.explorer.render import STATIC


class ExplorerRoutes:
    """The routes, and the reader to bind once the application that holds them exists."""

    def __init__(self) -> None:
        self.explorer = Explorer()
        self.routes: list[BaseRoute] = [
            *home_routes(self.explorer),
            *chain_routes(self.explorer),
            *account_routes(self.explorer),
            *gov_routes(self.explorer),
            *misc_routes(self.explorer),
            *trace_routes(self.explorer),
            *wr_routes(self.explorer),
            Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
        ]

    def bind(self, app: ASGIApp) -> None:
        """Point the explorer's reader at the application."""
        self.explorer.reader.bind(app)
