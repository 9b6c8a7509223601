"""The Bolt (Neo4j) side of the cypher executor.

No Neo4j server runs here, and FalkorDB's Bolt endpoint is no stand-in (it splices parameters
into the query text, ignores transactions and database selection). So the executor's own logic
(one transaction per batch, rollback, the error policy, the database chosen, credentials) is
tested around a fake driver that records what it is asked and raises the official driver's own
exception classes; and the official driver itself is used against a port nothing listens on,
which is a real ServiceUnavailable. What only a real Neo4j can show is listed in the
integration's README ("Verified only against Neo4j").
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from msp_neo4j._executor import CypherExecutor
from neo4j import exceptions as ne

from msp import CypherQuery
from msp.executors import ExecutionContext, Outcome

PASSWORD = "bolt-pass-7Hq2-secret"
UNWIND = "UNWIND $rows AS r MERGE (n:Progress {id: r.id}) SET n += r.props"


def neo4j_error(code: str, message: str = "boom") -> Exception:
    return ne.Neo4jError._hydrate_neo4j(code=code, message=message)


class FakeTx:
    def __init__(self, driver: FakeDriver) -> None:
        self.driver = driver
        self._closed = False

    async def run(self, statement: str, parameters: dict[str, Any]) -> Any:
        self.driver.log.append(("run", statement, parameters))
        error = self.driver.fail(statement, parameters)
        if error is not None:
            raise error
        counters = SimpleNamespace(nodes_created=len(parameters.get("rows", [])) or 1, relationships_created=0,
                                   relationships_deleted=0, properties_set=2)

        async def consume() -> Any:
            return SimpleNamespace(counters=counters)

        return SimpleNamespace(consume=consume)

    async def commit(self) -> None:
        self.driver.log.append(("commit",))
        if self.driver.commit_error is not None:
            raise self.driver.commit_error
        self._closed = True

    async def rollback(self) -> None:
        self.driver.log.append(("rollback",))
        self._closed = True

    def closed(self) -> bool:
        return self._closed


class FakeSession:
    def __init__(self, driver: FakeDriver, database: str | None) -> None:
        self.driver = driver
        self.database = database

    async def __aenter__(self) -> FakeSession:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def begin_transaction(self, timeout: float | None = None) -> FakeTx:
        self.driver.log.append(("begin", self.database, timeout))
        if self.driver.begin_error is not None:
            raise self.driver.begin_error
        return FakeTx(self.driver)


class FakeDriver:
    """Records sessions, statements, commits and rollbacks; fails as told."""

    def __init__(self) -> None:
        self.log: list[tuple[Any, ...]] = []
        self.begin_error: Exception | None = None
        self.commit_error: Exception | None = None
        self.fail: Callable[[str, dict[str, Any]], Exception | None] = lambda s, p: None
        self.closed = False
        self.created_with: list[tuple[str, Any, float]] = []

    def session(self, database: str | None = None) -> FakeSession:
        return FakeSession(self, database)

    async def close(self) -> None:
        self.closed = True

    def factory(self, uri: str, auth: Any, timeout_s: float) -> FakeDriver:
        self.created_with.append((uri, auth, timeout_s))
        return self

    def count(self, what: str) -> int:
        return sum(1 for entry in self.log if entry[0] == what)


def progress(i: int, database: str | None = None) -> CypherQuery:
    return CypherQuery(statement=UNWIND, parameters={"rows": [{"id": f"u{i}", "props": {"text": f"t{i}"}}]},
                       database=database)


def other(i: int) -> CypherQuery:
    return CypherQuery(statement="MERGE (s:Session {id: $id})", parameters={"id": f"s{i}"})


CONFIG = {"uri": "neo4j://graph.example:7687", "database": "work", "user": "msp",
          "password_env": "MSP_TEST_NEO4J_PASSWORD"}


@pytest.fixture
def password(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("MSP_TEST_NEO4J_PASSWORD", PASSWORD)
    return PASSWORD


def run(actions: list[Any], driver: FakeDriver, config: dict[str, Any] | None = None,
        tmp: Path = Path(".")) -> list[Outcome]:
    async def go() -> list[Outcome]:
        executor = CypherExecutor(bolt_driver=driver.factory)
        try:
            return await executor.execute_batch(actions, ExecutionContext("neo4j", config or CONFIG, tmp))
        finally:
            await executor.aclose()

    return asyncio.run(go())


def assert_no_password(outcomes: list[Outcome]) -> None:
    for outcome in outcomes:
        assert PASSWORD not in outcome.summary


def test_a_batch_is_one_transaction_with_merged_unwinds(password: str) -> None:
    driver = FakeDriver()
    actions = [other(0), progress(1), progress(2), progress(3), other(4)]
    outcomes = run(actions, driver)

    assert [o.status for o in outcomes] == ["done"] * 5
    assert driver.count("begin") == 1 and driver.count("commit") == 1 and driver.count("rollback") == 0
    statements = [entry for entry in driver.log if entry[0] == "run"]
    assert len(statements) == 3  # the three consecutive UNWINDs travelled as one
    assert statements[1][2] == {"rows": [a.parameters["rows"][0] for a in actions[1:4]]}
    assert driver.log[0] == ("begin", "work", 10.0)
    assert driver.created_with == [("neo4j://graph.example:7687", ("msp", PASSWORD), 10.0)]
    assert driver.closed  # aclose closes the driver
    assert_no_password(outcomes)


def test_the_actions_database_wins_and_splits_transactions(password: str) -> None:
    driver = FakeDriver()
    outcomes = run([progress(1), progress(2, "audit"), progress(3, "audit"), progress(4)], driver)
    assert [o.status for o in outcomes] == ["done"] * 4
    assert [e[1] for e in driver.log if e[0] == "begin"] == ["work", "audit", "work"]
    assert driver.count("commit") == 3


def test_service_unavailable_rolls_back_and_retries_what_was_tried(password: str) -> None:
    driver = FakeDriver()
    driver.fail = lambda s, p: ne.ServiceUnavailable("connection lost") if p.get("id") == "s2" else None
    outcomes = run([other(0), other(1), other(2), other(3)], driver)

    # Statements 0-2 ran in the rolled-back transaction: retried; 3 was never tried: handed back.
    assert [o.status for o in outcomes] == ["retry"] * 3
    assert "rolled back" in outcomes[0].summary and "ServiceUnavailable" in outcomes[0].summary
    assert driver.count("commit") == 0 and driver.count("rollback") == 1


def test_an_unknown_commit_result_is_retried(password: str) -> None:
    driver = FakeDriver()
    driver.commit_error = ne.IncompleteCommit("connection lost during commit")
    outcomes = run([other(0), other(1)], driver)
    assert [o.status for o in outcomes] == ["retry", "retry"]  # MERGE makes a repeat harmless


def test_transient_errors_are_retried(password: str) -> None:
    driver = FakeDriver()
    driver.begin_error = neo4j_error("Neo.TransientError.Transaction.DeadlockDetected")
    outcomes = run([other(0), other(1)], driver)
    assert [o.status for o in outcomes] == ["retry"]


@pytest.mark.parametrize("code", ["Neo.ClientError.Security.Unauthorized", "Neo.ClientError.Security.Forbidden"])
def test_refused_credentials_wait(password: str, code: str) -> None:
    driver = FakeDriver()
    driver.begin_error = neo4j_error(code, "The client is unauthorized due to authentication failure.")
    outcomes = run([other(0), other(1), other(2)], driver)
    assert [o.status for o in outcomes] == ["wait"]  # the rest go back untried
    assert "credentials" in outcomes[0].summary
    assert_no_password(outcomes)


def test_a_missing_password_waits_without_building_a_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MSP_TEST_NEO4J_PASSWORD", raising=False)
    driver = FakeDriver()
    outcomes = run([other(0), other(1)], driver)
    assert [o.status for o in outcomes] == ["wait"]
    assert "MSP_TEST_NEO4J_PASSWORD" in outcomes[0].summary
    assert driver.created_with == []


def test_no_password_configured_means_no_auth() -> None:
    driver = FakeDriver()
    outcomes = run([other(0)], driver, {"uri": "bolt://127.0.0.1:7687"})
    assert outcomes[0].status == "done"
    assert driver.created_with == [("bolt://127.0.0.1:7687", None, 10.0)]
    assert driver.log[0][1] is None  # the server's default database


@pytest.mark.parametrize("code", [
    "Neo.ClientError.Statement.SyntaxError",
    "Neo.ClientError.Schema.ConstraintValidationFailed",
    "Neo.ClientError.Statement.TypeError",
])
def test_a_bad_statement_is_dead_alone_and_the_rest_delivered(password: str, code: str) -> None:
    driver = FakeDriver()
    driver.fail = lambda s, p: neo4j_error(code) if p.get("id") == "s1" else None
    outcomes = run([other(0), other(1), other(2)], driver)

    assert [o.status for o in outcomes] == ["done", "dead", "done"]
    assert code.rsplit(".", 1)[1] in outcomes[1].summary or "rejected" in outcomes[1].summary
    # The batch's transaction rolled back, then one transaction per action.
    assert driver.count("begin") == 4 and driver.count("commit") == 2 and driver.count("rollback") == 2


def test_a_bad_row_in_a_merged_unwind_is_dead_alone(password: str) -> None:
    driver = FakeDriver()

    def fail(statement: str, parameters: dict[str, Any]) -> Exception | None:
        ids = [r["id"] for r in parameters.get("rows", [])]
        return neo4j_error("Neo.ClientError.Schema.ConstraintValidationFailed") if "u2" in ids else None

    driver.fail = fail
    outcomes = run([progress(1), progress(2), progress(3)], driver)
    assert [o.status for o in outcomes] == ["done", "dead", "done"]


def test_existing_constraints_are_done(password: str) -> None:
    import msp_neo4j

    driver = FakeDriver()
    driver.fail = lambda s, p: (neo4j_error("Neo.ClientError.Schema.EquivalentSchemaRuleAlreadyExists",
                                            "An equivalent constraint already exists")
                                if "msp_session_id" in s else None)
    outcomes = run(msp_neo4j.setup_actions(CONFIG), driver)
    assert [o.status for o in outcomes] == ["done"] * 9


def test_a_driver_that_cannot_be_built_is_dead(password: str) -> None:
    def broken(uri: str, auth: Any, timeout_s: float) -> Any:
        raise ne.ConfigurationError("unsupported routing context")

    async def go() -> list[Outcome]:
        executor = CypherExecutor(bolt_driver=broken)
        return await executor.execute_batch([other(0), other(1)], ExecutionContext("neo4j", CONFIG, Path(".")))

    assert [o.status for o in asyncio.run(go())] == ["dead", "dead"]


def test_the_official_driver_against_a_closed_port_is_a_retry(tmp_path: Path) -> None:
    """The real neo4j driver, a real refused connection: ServiceUnavailable, mapped to retry."""
    from msp_neo4j import _server

    port = _server._free_port()  # nothing listens there

    async def go() -> list[Outcome]:
        executor = CypherExecutor()
        try:
            return await executor.execute_batch(
                [other(0), other(1)], ExecutionContext("neo4j", {"uri": f"bolt://127.0.0.1:{port}"}, tmp_path,
                                                       timeout_s=2.0))
        finally:
            await executor.aclose()

    outcomes = asyncio.run(go())
    assert [o.status for o in outcomes] == ["retry"]
    assert "unavailable" in outcomes[0].summary.lower()
