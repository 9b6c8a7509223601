"""A WS-Management endpoint on 127.0.0.1 for pypsrp, backed by psrpcore's server side (ps_peer).

It speaks just enough of MS-WSMV for a PowerShell runspace pool: Create (shell with the PSRP
creationXml), Command (first pipeline fragment as the argument), Send, Receive, Signal
(ctrl_c / terminate) and Delete; Basic auth over plain HTTP, no message encryption. Anything
else is answered with a SOAP fault. Started and stopped by the tests.
"""

from __future__ import annotations

import base64
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from xml.etree import ElementTree as ET

from ps_peer import Peer
from psrpcore import StreamType
from psrpcore.types import PSInvocationState

NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "wsa": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "wsman": "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd",
    "rsp": "http://schemas.microsoft.com/wbem/wsman/1/windows/shell",
    "wst": "http://schemas.xmlsoap.org/ws/2004/09/transfer",
    "pwsh": "http://schemas.microsoft.com/powershell",
    "wsmanfault": "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault",
}
for _prefix, _uri in NS.items():
    ET.register_namespace(_prefix, _uri)

A_CREATE = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Create"
A_DELETE = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Delete"
A_SHELL = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/"
DONE = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/Done"
RUNNING = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/Running"
OPERATION_TIMEOUT_CODE = "2150858793"


def q(prefix: str, name: str) -> str:
    return f"{{{NS[prefix]}}}{name}"


class _Shell:
    def __init__(self, shell_id: str) -> None:
        self.id = shell_id
        self.peer = Peer()
        self.queues: dict[uuid.UUID | None, list[bytes]] = {}
        self.dead = False

    def pump(self) -> None:
        for payload in self.peer.outgoing(None):
            self.queues.setdefault(payload.pipeline_id, []).append(payload.data)


class WSManServer:
    """``with WSManServer("user", "pass") as server: server.port``"""

    def __init__(self, username: str, password: str) -> None:
        self.username = username
        self.password = password
        self.shells: dict[str, _Shell] = {}
        self.lock = threading.Lock()
        self.requests: list[str] = []  # the WS-Man actions received, for tests
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                expected = "Basic " + base64.b64encode(f"{server.username}:{server.password}".encode()).decode()
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.headers.get("Authorization") != expected:
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="WSMan"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                status, reply = server.handle(body)
                self.send_response(status)
                self.send_header("Content-Type", "application/soap+xml;charset=UTF-8")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> WSManServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)

    # --- SOAP ----------------------------------------------------------------------------------

    def _envelope(self, action: str, relates_to: str, body_children: list[ET.Element]) -> bytes:
        env = ET.Element(q("s", "Envelope"))
        header = ET.SubElement(env, q("s", "Header"))
        ET.SubElement(header, q("wsa", "Action")).text = action
        ET.SubElement(header, q("wsa", "MessageID")).text = f"uuid:{uuid.uuid4()}"
        ET.SubElement(header, q("wsa", "RelatesTo")).text = relates_to
        ET.SubElement(header, q("wsa", "To")).text = "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous"
        body = ET.SubElement(env, q("s", "Body"))
        body.extend(body_children)
        data: bytes = ET.tostring(env, encoding="utf-8")
        return data

    def _fault(self, relates_to: str, code: str, text: str) -> tuple[int, bytes]:
        fault = ET.Element(q("s", "Fault"))
        c = ET.SubElement(fault, q("s", "Code"))
        ET.SubElement(c, q("s", "Value")).text = "s:Receiver"
        reason = ET.SubElement(fault, q("s", "Reason"))
        ET.SubElement(reason, q("s", "Text")).text = text
        detail = ET.SubElement(fault, q("s", "Detail"))
        wf = ET.SubElement(detail, q("wsmanfault", "WSManFault"), Code=code, Machine="127.0.0.1")
        ET.SubElement(wf, q("wsmanfault", "Message")).text = text
        return 500, self._envelope("http://schemas.dmtf.org/wbem/wsman/1/wsman/fault", relates_to, [fault])

    def handle(self, raw: bytes) -> tuple[int, bytes]:
        request = ET.fromstring(raw)
        header = request.find("s:Header", NS)
        body = request.find("s:Body", NS)
        assert header is not None and body is not None
        action = header.findtext("wsa:Action", "", NS)
        message_id = header.findtext("wsa:MessageID", "", NS)
        selector = header.find("wsman:SelectorSet/wsman:Selector[@Name='ShellId']", NS)
        shell_id = selector.text if selector is not None and selector.text else ""
        with self.lock:
            self.requests.append(action.rsplit("/", 1)[-1])
            if action == A_CREATE:
                return self._create(body, message_id)
            shell = self.shells.get(shell_id)
            if shell is None or shell.dead:
                return self._fault(message_id, "2150858843", "The request for the Windows Remote Shell with "
                                   "ShellId was not found (the shell is gone)")
            if action == A_DELETE:
                del self.shells[shell_id]
                return 200, self._envelope(action + "Response", message_id, [])
            verb = action[len(A_SHELL):] if action.startswith(A_SHELL) else ""
            handler = {"Command": self._command, "Send": self._send, "Receive": self._receive,
                       "Signal": self._signal}.get(verb)
            if handler is None:
                return self._fault(message_id, "2150858817", f"action {action} is not supported here")
            return handler(shell, body, message_id, action)

    def _feed(self, shell: _Shell, data: bytes, pipeline_id: uuid.UUID | None, stream: StreamType) -> bool:
        if shell.peer.receive(data, pipeline_id, stream) == "die":
            shell.dead = True
            return False
        shell.pump()
        return True

    def _create(self, body: ET.Element, message_id: str) -> tuple[int, bytes]:
        shell_el = body.find("rsp:Shell", NS)
        assert shell_el is not None
        shell_id = shell_el.attrib.get("ShellId") or str(uuid.uuid4()).upper()
        shell = _Shell(shell_id)
        self.shells[shell_id] = shell
        creation = shell_el.findtext("pwsh:creationXml", "", NS)
        self._feed(shell, base64.b64decode(creation), None, StreamType.default)
        created = ET.Element(q("wst", "ResourceCreated"))
        ET.SubElement(created, q("wsa", "Address")).text = "http://127.0.0.1/wsman"
        refs = ET.SubElement(created, q("wsa", "ReferenceParameters"))
        ET.SubElement(refs, q("wsman", "ResourceURI")).text = "http://schemas.microsoft.com/powershell/Microsoft.PowerShell"
        sel = ET.SubElement(refs, q("wsman", "SelectorSet"))
        ET.SubElement(sel, q("wsman", "Selector"), Name="ShellId").text = shell_id
        info = ET.Element(q("rsp", "Shell"))
        ET.SubElement(info, q("rsp", "ShellId")).text = shell_id
        ET.SubElement(info, q("rsp", "OutputStreams")).text = "stdout"
        return 200, self._envelope(A_CREATE + "Response", message_id, [created, info])

    def _command(self, shell: _Shell, body: ET.Element, message_id: str, action: str) -> tuple[int, bytes]:
        line = body.find("rsp:CommandLine", NS)
        assert line is not None
        command_id = line.attrib["CommandId"]
        pipeline_id = uuid.UUID(command_id)
        shell.peer.new_pipeline(pipeline_id)
        data = base64.b64decode(line.findtext("rsp:Arguments", "", NS))
        if not self._feed(shell, data, pipeline_id, StreamType.default):
            return self._fault(message_id, "2150858843", "the PowerShell host process exited")
        resp = ET.Element(q("rsp", "CommandResponse"))
        ET.SubElement(resp, q("rsp", "CommandId")).text = command_id
        return 200, self._envelope(action + "Response", message_id, [resp])

    def _send(self, shell: _Shell, body: ET.Element, message_id: str, action: str) -> tuple[int, bytes]:
        for stream in body.findall("rsp:Send/rsp:Stream", NS):
            command_id = stream.attrib.get("CommandId")
            kind = StreamType.prompt_response if stream.attrib.get("Name") == "pr" else StreamType.default
            pid = uuid.UUID(command_id) if command_id else None
            if not self._feed(shell, base64.b64decode(stream.text or ""), pid, kind):
                return self._fault(message_id, "2150858843", "the PowerShell host process exited")
        return 200, self._envelope(action + "Response", message_id, [ET.Element(q("rsp", "SendResponse"))])

    def _receive(self, shell: _Shell, body: ET.Element, message_id: str, action: str) -> tuple[int, bytes]:
        desired = body.find("rsp:Receive/rsp:DesiredStream", NS)
        command_id = desired.attrib.get("CommandId") if desired is not None else None
        pid = uuid.UUID(command_id) if command_id else None
        chunks = shell.queues.pop(pid, [])
        running = False
        if pid is not None:
            pipe = shell.peer.pool.pipeline_table.get(pid)
            running = pipe is not None and pipe.state == PSInvocationState.Running
        if not chunks and (pid is None or running):
            return self._fault(message_id, OPERATION_TIMEOUT_CODE, "The WS-Management service cannot complete the "
                               "operation within the time specified in OperationTimeout.")
        resp = ET.Element(q("rsp", "ReceiveResponse"))
        for chunk in chunks:
            attrs = {"Name": "stdout"}
            if command_id:
                attrs["CommandId"] = command_id
            ET.SubElement(resp, q("rsp", "Stream"), attrs).text = base64.b64encode(chunk).decode()
        if command_id:
            ET.SubElement(resp, q("rsp", "CommandState"), CommandId=command_id, State=RUNNING if running else DONE)
        return 200, self._envelope(action + "Response", message_id, [resp])

    def _signal(self, shell: _Shell, body: ET.Element, message_id: str, action: str) -> tuple[int, bytes]:
        signal = body.find("rsp:Signal", NS)
        assert signal is not None
        pid = uuid.UUID(signal.attrib["CommandId"])
        code = signal.findtext("rsp:Code", "", NS)
        if code.endswith("ctrl_c"):
            shell.peer.stop(pid)
            shell.pump()
        else:
            shell.peer.close_pipeline(pid)
        return 200, self._envelope(action + "Response", message_id, [ET.Element(q("rsp", "SignalResponse"))])
