"""A stand-in for ``pwsh -s``: speaks the out-of-process framing on stdin/stdout, backed by
psrpcore's server side (ps_peer). Launched by the tests instead of pwsh.

Options: ``--ack before|after`` (send each DataAck before or after the answers the data caused),
``--fragment N`` (largest fragment per Data packet, default 32 KiB).
"""

from __future__ import annotations

import argparse
import base64
import os
import sys
import uuid
from pathlib import Path
from xml.etree import ElementTree

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ps_peer import Peer
from psrpcore import StreamType

EMPTY = uuid.UUID(int=0)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ack", choices=["before", "after"], default="after")
    parser.add_argument("--fragment", type=int, default=32 * 1024)
    args, _rest = parser.parse_known_args()  # pwsh's own flags (-NoLogo -NoProfile -s) are ignored
    peer = Peer()
    out = sys.stdout
    packet_log = os.environ.get("MSP_STANDIN_LOG", "") + ".packets" if os.environ.get("MSP_STANDIN_LOG") else None

    def send(line: str) -> None:
        out.write(line + "\n")
        out.flush()

    def flush() -> None:
        for payload in peer.outgoing(args.fragment):
            guid = payload.pipeline_id or EMPTY
            stream = "PromptResponse" if payload.stream_type == StreamType.prompt_response else "Default"
            send(f"<Data Stream='{stream}' PSGuid='{guid}'>{base64.b64encode(payload.data).decode()}</Data>")

    for raw in sys.stdin:
        raw = raw.strip()
        if not raw:
            continue
        element = ElementTree.fromstring(raw)
        guid = uuid.UUID(element.attrib["PSGuid"])
        tag = element.tag
        if tag == "Data":
            if packet_log:
                with open(packet_log, "a", encoding="utf-8") as f:
                    f.write(f"{guid} {len(base64.b64decode(element.text or ''))}\n")
            if args.ack == "before":
                send(f"<DataAck PSGuid='{guid}' />")
            stream = StreamType.prompt_response if element.attrib.get("Stream") == "PromptResponse" \
                else StreamType.default
            verdict = peer.receive(base64.b64decode(element.text or ""), None if guid == EMPTY else guid, stream)
            if verdict == "die":
                sys.stderr.write("stand-in: exiting as the fixture asked\n")
                sys.stderr.flush()
                os._exit(3)
            flush()
            if args.ack == "after":
                send(f"<DataAck PSGuid='{guid}' />")
        elif tag == "Command":
            peer.new_pipeline(guid)
            send(f"<CommandAck PSGuid='{guid}' />")
        elif tag == "Signal":
            if packet_log:
                with open(packet_log, "a", encoding="utf-8") as f:
                    f.write(f"{guid} signal\n")
            peer.stop(guid)
            flush()
            send(f"<SignalAck PSGuid='{guid}' />")
        elif tag == "Close":
            if guid == EMPTY:
                send(f"<CloseAck PSGuid='{guid}' />")
                return 0
            peer.close_pipeline(guid)
            send(f"<CloseAck PSGuid='{guid}' />")
        else:
            sys.stderr.write(f"stand-in: unknown packet {tag}\n")
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
