"""A local PowerShell 7 runspace over the out-of-process protocol (``pwsh -s``), on psrpcore.

``pwsh -NoLogo -NoProfile -s`` speaks PSRP over its stdin/stdout as one XML packet per line:

* ``<Data Stream='Default|PromptResponse' PSGuid='...'>base64 fragments</Data>``: PSRP data for
  the runspace pool (all-zero GUID) or a pipeline; answered by ``<DataAck PSGuid='...' />``;
* ``<Command PSGuid='...' />``: a pipeline is about to be created; ``<CommandAck .../>``;
* ``<Signal PSGuid='...' />``: stop a pipeline; ``<SignalAck .../>``;
* ``<Close PSGuid='...' />``: close a pipeline or the pool; ``<CloseAck .../>``.

Like PowerShell's own client, each Data packet (at most 32 KiB of fragment) waits for its
DataAck before the next is sent. Acks may arrive before or after the data they caused: a
reader task consumes stdout independently and the waits only look at counters.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from msp._powershell._transport import (
    ErrorInfo,
    InvokeResult,
    RunspaceDied,
    error_from_psrpcore,
    information_from,
)

EMPTY_GUID = uuid.UUID(int=0)
#: Largest PSRP fragment put in one Data packet (PowerShell's own default).
FRAGMENT_SIZE = 32 * 1024
_LINE_LIMIT = 16 * 1024 * 1024


class _Call:
    def __init__(self) -> None:
        self.result = InvokeResult()
        self.done = False


class OutOfProcRunspace:
    """One runspace pool in a child PowerShell process."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        fragment_size: int = FRAGMENT_SIZE,
    ) -> None:
        self.argv = list(argv)
        self.cwd = cwd
        self.env = dict(env) if env is not None else None
        self.fragment_size = fragment_size
        self._proc: asyncio.subprocess.Process | None = None
        self._pool: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._stderr_task: asyncio.Task[None] | None = None
        self._stderr = bytearray()
        self._acks: Counter[tuple[str, uuid.UUID]] = Counter()
        self._calls: dict[uuid.UUID, _Call] = {}
        self._changed = asyncio.Event()
        self._write_lock = asyncio.Lock()
        self._dead: str | None = None
        self._protocol_error: str | None = None

    # --- state ------------------------------------------------------------------------------

    @property
    def alive(self) -> bool:
        return self._dead is None and self._proc is not None and self._proc.returncode is None

    def _die(self, why: str) -> None:
        if self._dead is None:
            self._dead = why
        self._changed.set()

    def _death_message(self) -> str:
        tail = bytes(self._stderr[-400:]).decode("utf-8", "replace").strip()
        why = self._dead or "the PowerShell process is gone"
        return f"{why}: {tail}" if tail else why

    async def _until(self, condition: Callable[[], bool]) -> None:
        while not condition():
            if self._dead is not None:
                raise RunspaceDied(self._death_message())
            self._changed.clear()
            if condition():
                return
            await self._changed.wait()

    # --- I/O --------------------------------------------------------------------------------

    async def open(self) -> None:
        import psrpcore
        from psrpcore.types import RunspacePoolState

        try:
            self._proc = await asyncio.create_subprocess_exec(
                *self.argv,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                cwd=str(self.cwd) if self.cwd else None,
                env={**os.environ, **self.env} if self.env is not None else None,
                limit=_LINE_LIMIT,
            )
        except OSError as exc:
            raise RunspaceDied(f"cannot start {self.argv[0]!r}: {exc.strerror or exc}") from None
        self._reader = asyncio.create_task(self._read_loop())
        self._stderr_task = asyncio.create_task(self._read_stderr())
        self._pool = psrpcore.ClientRunspacePool()
        self._pool.open()
        await self._flush()
        pool = self._pool
        await self._until(lambda: pool.state in (RunspacePoolState.Opened, RunspacePoolState.Broken,
                                                 RunspacePoolState.Closed))
        if pool.state != RunspacePoolState.Opened:
            self._die(f"the runspace pool did not open (state {pool.state.name})")
            raise RunspaceDied(self._death_message())

    async def _read_stderr(self) -> None:
        assert self._proc is not None and self._proc.stderr is not None
        while True:
            chunk = await self._proc.stderr.read(4096)
            if not chunk:
                return
            self._stderr += chunk
            del self._stderr[:-4096]

    async def _read_loop(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        stdout = self._proc.stdout
        try:
            while True:
                line = await stdout.readline()
                if not line:
                    break
                line = line.strip()
                if not line:
                    continue
                self._handle_packet(line)
                self._changed.set()
        except Exception as exc:  # a garbled packet or a protocol error: this runspace is done
            self._die(f"protocol error from PowerShell: {type(exc).__name__}: {exc}")
            return
        code = await self._proc.wait()
        self._die(f"the PowerShell process exited (code {code})")

    def _handle_packet(self, line: bytes) -> None:
        from psrpcore import PSRPPayload, StreamType

        element = ElementTree.fromstring(line)
        guid = uuid.UUID(element.attrib.get("PSGuid", str(EMPTY_GUID)))
        if element.tag == "Data":
            stream = StreamType.prompt_response if element.attrib.get("Stream") == "PromptResponse" \
                else StreamType.default
            data = base64.b64decode(element.text or "")
            self._pool.receive_data(PSRPPayload(data, stream, None if guid == EMPTY_GUID else guid))
            self._drain_events()
        elif element.tag.endswith("Ack"):
            self._acks[(element.tag, guid)] += 1
        else:
            raise ValueError(f"unexpected packet <{element.tag}>")

    def _drain_events(self) -> None:
        import psrpcore
        from psrpcore.types import PSInvocationState, RunspacePoolState

        while True:
            event = self._pool.next_event()
            if event is None:
                return
            call = self._calls.get(event.pipeline_id) if event.pipeline_id else None
            if isinstance(event, psrpcore.RunspacePoolStateEvent):
                if event.state in (RunspacePoolState.Broken, RunspacePoolState.Closed):
                    reason = error_from_psrpcore(event.reason).message if event.reason else event.state.name
                    self._die(f"the runspace pool is {event.state.name.lower()}: {reason}")
            elif call is None:
                continue
            elif isinstance(event, psrpcore.PipelineOutputEvent):
                call.result.output.append(event.data)
            elif isinstance(event, psrpcore.ErrorRecordEvent):
                call.result.errors.append(error_from_psrpcore(event.record))
            elif isinstance(event, psrpcore.InformationRecordEvent):
                call.result.information.append(information_from(event.record))
            elif isinstance(event, psrpcore.WarningRecordEvent):
                call.result.warnings.append(str(getattr(event.record, "Message", event.record)))
            elif isinstance(event, psrpcore.PipelineStateEvent) and event.state in (
                    PSInvocationState.Completed, PSInvocationState.Failed, PSInvocationState.Stopped):
                if event.state != PSInvocationState.Completed:
                    call.result.failed = (error_from_psrpcore(event.reason) if event.reason
                                          else ErrorInfo(f"the pipeline {event.state.name.lower()}"))
                call.done = True

    async def _write(self, text: str) -> None:
        if self._dead is not None or self._proc is None or self._proc.stdin is None:
            raise RunspaceDied(self._death_message())
        try:
            async with self._write_lock:
                self._proc.stdin.write(text.encode("utf-8") + b"\n")
                await self._proc.stdin.drain()
        except (BrokenPipeError, ConnectionResetError) as exc:
            self._die(f"writing to PowerShell failed ({type(exc).__name__})")
            raise RunspaceDied(self._death_message()) from None

    async def _packet_with_ack(self, tag: str, guid: uuid.UUID) -> None:
        key = (f"{tag}Ack", guid)
        wanted = self._acks[key] + 1
        await self._write(f"<{tag} PSGuid='{guid}' />")
        await self._until(lambda: self._acks[key] >= wanted)

    async def _flush(self) -> None:
        """Send every pending PSRP fragment, one Data packet at a time, each acknowledged."""
        from psrpcore import StreamType

        while True:
            payload = self._pool.data_to_send(self.fragment_size)
            if payload is None:
                return
            guid = payload.pipeline_id or EMPTY_GUID
            stream = "PromptResponse" if payload.stream_type == StreamType.prompt_response else "Default"
            key = ("DataAck", guid)
            wanted = self._acks[key] + 1
            encoded = base64.b64encode(payload.data).decode()
            await self._write(f"<Data Stream='{stream}' PSGuid='{guid}'>{encoded}</Data>")
            await self._until(lambda key=key, wanted=wanted: self._acks[key] >= wanted)  # type: ignore[misc]

    # --- the runspace interface ---------------------------------------------------------------

    async def invoke(self, command: str, parameters: dict[str, Any], *, script: bool = False) -> InvokeResult:
        import psrpcore

        if not self.alive:
            raise RunspaceDied(self._death_message())
        ps = psrpcore.ClientPowerShell(self._pool)
        if script:
            ps.add_script(command)
        else:
            ps.add_command(command)
        for name, value in parameters.items():
            ps.add_parameter(name, value)
        call = _Call()
        self._calls[ps.pipeline_id] = call
        try:
            ps.start()
            await self._packet_with_ack("Command", ps.pipeline_id)
            await self._flush()
            try:
                await self._until(lambda: call.done)
            except asyncio.CancelledError:
                # Overran its time: ask PowerShell to stop the pipeline (Signal) before giving up.
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self._packet_with_ack("Signal", ps.pipeline_id), 2)
                raise
            with contextlib.suppress(Exception):
                ps.close()
            await self._packet_with_ack("Close", ps.pipeline_id)
        finally:
            self._calls.pop(ps.pipeline_id, None)
        return call.result

    async def close(self) -> None:
        """Close the pool politely when possible; the process is gone afterwards either way."""
        proc = self._proc
        if proc is None:
            return
        try:
            if self.alive:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self._packet_with_ack("Close", EMPTY_GUID), 5)
                if proc.stdin is not None:
                    with contextlib.suppress(Exception):
                        proc.stdin.close()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(proc.wait(), 5)
        finally:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(proc.wait(), 5)
            self._die("the runspace was closed")
            for task in (self._reader, self._stderr_task):
                if task is not None and not task.done():
                    task.cancel()
                    with contextlib.suppress(BaseException):
                        await task
