"""The server side of the stand-in PSRP peers, on psrpcore's ServerRunspacePool/ServerPipeline.

It answers pipelines the way the example modules would (from ps_fixtures), understands the two
commands the bridge uses to load a module (``Import-Module -Name`` and the fixed loader script),
and refuses any other script. Every command received is appended as a JSON line to the file
named by ``$MSP_STANDIN_LOG`` so tests can check what travelled and how.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

from ps_fixtures import FIXTURES, Answer, ModuleState, command_not_found, error_record
from psrpcore import CreatePipelineEvent, PSRPPayload, ServerPipeline, ServerRunspacePool
from psrpcore.types import PSInvocationState

from msp._powershell._transport import HOST_FUNCTIONS_SCRIPT, LOAD_MODULE_SCRIPT


def plain(value: Any) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return repr(value)


class Peer:
    def __init__(self) -> None:
        self.pool = ServerRunspacePool()
        self.module = ModuleState()
        self.log_path = os.environ.get("MSP_STANDIN_LOG")
        self.hanging: set[uuid.UUID] = set()

    def _log(self, entry: dict[str, Any]) -> None:
        if self.log_path:
            with open(self.log_path, "a", encoding="utf-8") as f:
                f.write(json.dumps(entry) + "\n")

    def new_pipeline(self, pipeline_id: uuid.UUID) -> ServerPipeline:
        return ServerPipeline(self.pool, pipeline_id)

    def receive(self, data: bytes, pipeline_id: uuid.UUID | None, stream: Any) -> str | None:
        """Feed PSRP data; returns "die" when a fixture asks the process to exit."""
        self.pool.receive_data(PSRPPayload(data, stream, pipeline_id))
        while True:
            event = self.pool.next_event()
            if event is None:
                return None
            pipe = self.pool.pipeline_table.get(event.pipeline_id) if event.pipeline_id else None
            if isinstance(event, CreatePipelineEvent) and pipe is not None and self.run(pipe, event.pipeline) == "die":
                return "die"

    def outgoing(self, amount: int | None) -> list[PSRPPayload]:
        out = []
        while (payload := self.pool.data_to_send(amount)) is not None:
            out.append(payload)
        return out

    def stop(self, pipeline_id: uuid.UUID) -> None:
        pipe = self.pool.pipeline_table.get(pipeline_id)
        if pipe is not None and pipe.state == PSInvocationState.Running:
            pipe.stop()
        self.hanging.discard(pipeline_id)

    def close_pipeline(self, pipeline_id: uuid.UUID) -> None:
        pipe = self.pool.pipeline_table.get(pipeline_id)
        if pipe is not None and pipe.state != PSInvocationState.Running:
            pipe.close()

    def run(self, pipe: ServerPipeline, metadata: Any) -> str | None:
        command = metadata.commands[0]
        name = str(command.command_text)
        params = {str(n): plain(v) for n, v in command.parameters}
        self._log({"command": name, "script": bool(command.is_script), "parameters": sorted(params),
                   "values": params, "pid": os.getpid(), "order": [str(n) for n, _ in command.parameters]})
        pipe.start()
        answer = self._answer(name, bool(command.is_script), params)
        if answer.die:
            return "die"
        for warning in answer.warnings:
            pipe.write_warning(warning)
        for data, tags in answer.information:
            pipe.write_information(data, "stand-in", tags=tags)
        for message, error_id in answer.errors:
            record = error_record(message, error_id)
            pipe.write_error(record.Exception, record.CategoryInfo, fully_qualified_error_id=error_id)
        for item in answer.output:
            pipe.write_output(item)
        if answer.hang:
            self.hanging.add(pipe.pipeline_id)
            return None
        if answer.terminating is not None:
            pipe._change_state(PSInvocationState.Failed, error=answer.terminating)
        else:
            pipe.complete()
        return None

    def _answer(self, name: str, script: bool, params: dict[str, Any]) -> Answer:
        if script:
            if name == HOST_FUNCTIONS_SCRIPT:
                # The host functions: the stand-in keeps the config they would serve and answers
                # with the edition and version it pretends to be ($MSP_STANDIN_PSVERSION).
                self.module.host_config = {str(params.get("Integration")): params.get("Config")}
                edition, _, version = os.environ.get("MSP_STANDIN_PSVERSION", "Core 7.4.6").partition(" ")
                return Answer(output=[edition, version])
            if name == LOAD_MODULE_SCRIPT:
                self.module.load(str(params.get("Source", "")))
                return Answer()
            return Answer(terminating=error_record("the stand-in runs no scripts", "ScriptRefused"))
        if name.lower() == "import-module":
            path = Path(str(params.get("Name", "")))
            try:
                self.module.load(path.read_text(encoding="utf-8-sig"))
            except OSError:
                return Answer(terminating=error_record(f"The specified module '{path}' was not loaded",
                                                       "Modules_ModuleNotFound"))
            return Answer()
        if name.lower() == "get-variable" and params.get("Name") == "PSVersionTable":  # the doctor's probe
            edition, _, version = os.environ.get("MSP_STANDIN_PSVERSION", "Core 7.4.6").partition(" ")
            return Answer(output=[{"PSEdition": edition, "PSVersion": version}])
        if name.lower() not in self.module.functions:
            return Answer(terminating=command_not_found(name))
        fixture = FIXTURES.get(name.lower())
        return fixture(self.module, params) if fixture else Answer()
