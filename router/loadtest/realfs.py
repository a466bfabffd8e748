"""A real FreeSWITCH for the opt-in tests and the lab: a configuration directory built from the
project's drop-in files (freeswitch_conf/) on a minimal base, started in the foreground on free
loopback ports, and stopped by its PID.

Nothing here builds or installs FreeSWITCH: point it at an install prefix (``bin/freeswitch``
inside), e.g. ``ESL_ROUTER_FREESWITCH=/opt/freeswitch`` (bench/sipp/README.md says how to build
one). The base is the smallest that runs the project's files as their README says: the stock
layout (``dialplan/default/*.xml`` inside context ``default``, ``directory/default/*.xml``
inside the default domain's users), one SIP profile ``internal`` on 127.0.0.1, the event socket
of ``event_socket.conf.xml`` with its password and port filled in, the core limits of
``switch.conf.snippet.xml`` merged into ``switch.conf.xml``, the hold music of
``local_stream.conf.xml`` with a generated 8 kHz WAV in ``$${sounds_dir}/music/8000``, and short
tone WAVs standing in for the two prompts the dialplan and the router play.

    python -m router.loadtest.realfs --prefix /opt/freeswitch --dir /tmp/fs-lab \\
        --config examples/single_centre_50.toml      # prints the ports; Ctrl-C stops it
"""

from __future__ import annotations

import argparse
import math
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
import wave
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["FreeSwitch", "LabPorts", "build_conf", "free_tcp_port", "freeswitch_binary", "start"]

ROOT = Path(__file__).resolve().parent.parent.parent
CONF = ROOT / "freeswitch_conf"

MODULES = (
    "mod_console",
    "mod_logfile",
    "mod_event_socket",
    "mod_sofia",
    "mod_loopback",
    "mod_commands",
    "mod_dptools",
    "mod_expr",
    "mod_dialplan_xml",
    "mod_native_file",
    "mod_sndfile",
    "mod_tone_stream",
    "mod_local_stream",
    "mod_voicemail",
)
"""What the project's files use (freeswitch_conf/README.md, "Modules used"), plus logging."""

PROMPTS = ("ivr/ivr-welcome_to_freeswitch.wav", "ivr/ivr-all_circuits_busy.wav")
"""Sounds the dialplan and the router's defaults play, which a bare install lacks."""


@dataclass(frozen=True)
class LabPorts:
    """Where the lab FreeSWITCH listens (all on 127.0.0.1)."""

    sip: int
    esl: int
    rtp_start: int = 16384
    rtp_end: int = 32768


def free_tcp_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def free_udp_port() -> int:
    """A UDP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def freeswitch_binary(prefix: str | os.PathLike[str]) -> Path:
    """``<prefix>/bin/freeswitch``; FileNotFoundError naming the path when it is not there."""
    exe = Path(prefix) / "bin" / "freeswitch"
    if not (exe.is_file() and os.access(exe, os.X_OK)):
        raise FileNotFoundError(f"{exe}: no FreeSWITCH executable (expected <prefix>/bin/freeswitch)")
    return exe


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _tone_wav(path: Path, seconds: float, hz: float = 440.0, rate: int = 8000) -> None:
    """A mono 16-bit WAV: a quiet tone, half on and half off each second."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = bytearray()
    for i in range(int(seconds * rate)):
        on = (i % rate) < rate // 2
        sample = int(3000 * math.sin(2 * math.pi * hz * i / rate)) if on else 0
        frames += struct.pack("<h", sample)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(bytes(frames))


def _event_socket(port: int, password: str) -> str:
    """The project's event_socket.conf.xml with the port and password filled in (what its
    README tells the engineer to do)."""
    text = (CONF / "autoload_configs" / "event_socket.conf.xml").read_text()
    text = re.sub(r'(name="listen-port" value=")[^"]*"', rf'\g<1>{port}"', text)
    return re.sub(r'(name="password" value=")[^"]*"', lambda m: f'{m.group(1)}{password}"', text)


def _switch_conf(ports: LabPorts) -> str:
    """A switch.conf.xml with the project's snippet merged into <settings> (its README's step)."""
    snippet = ET.parse(CONF / "autoload_configs" / "switch.conf.snippet.xml").getroot()
    params = {p.get("name", ""): p.get("value", "") for p in snippet.iter("param")}
    params.update(
        {
            "colorize-console": "false",
            "loglevel": "info",
            "rtp-start-port": str(ports.rtp_start),
            "rtp-end-port": str(ports.rtp_end),
        }
    )
    body = "\n".join(f'    <param name="{k}" value="{v}"/>' for k, v in params.items())
    return (
        '<configuration name="switch.conf" description="Core Configuration">\n'
        "  <cli-keybindings/>\n  <default-ptimes/>\n  <settings>\n"
        f"{body}\n  </settings>\n</configuration>\n"
    )


def _sip_profile(port: int) -> str:
    return f"""<profile name="internal">
  <aliases/>
  <gateways/>
  <domains><domain name="all" alias="false" parse="false"/></domains>
  <settings>
    <param name="user-agent-string" value="FreeSWITCH-esl-router-lab"/>
    <param name="context" value="default"/>
    <param name="dialplan" value="XML"/>
    <param name="sip-ip" value="127.0.0.1"/>
    <param name="rtp-ip" value="127.0.0.1"/>
    <param name="ext-sip-ip" value="127.0.0.1"/>
    <param name="ext-rtp-ip" value="127.0.0.1"/>
    <param name="sip-port" value="{port}"/>
    <param name="bind-params" value="transport=udp"/>
    <param name="auth-calls" value="false"/>
    <param name="accept-blind-reg" value="false"/>
    <param name="inbound-codec-prefs" value="PCMU,PCMA"/>
    <param name="outbound-codec-prefs" value="PCMU,PCMA"/>
    <param name="inbound-codec-negotiation" value="generous"/>
    <param name="rtp-timer-name" value="soft"/>
    <param name="rfc2833-pt" value="101"/>
    <param name="dtmf-type" value="rfc2833"/>
    <param name="liberal-dtmf" value="true"/>
    <param name="manage-presence" value="false"/>
    <param name="enable-timer" value="false"/>
    <param name="enable-100rel" value="false"/>
    <param name="max-proceeding" value="3000"/>
    <param name="session-timeout" value="0"/>
    <param name="rtp-timeout-sec" value="0"/>
    <param name="rtp-hold-timeout-sec" value="0"/>
    <param name="tls" value="false"/>
  </settings>
</profile>
"""


_FREESWITCH_XML = """<?xml version="1.0"?>
<document type="freeswitch/xml">
  <X-PRE-PROCESS cmd="include" data="vars.xml"/>
  <section name="configuration" description="Various Configuration">
    <X-PRE-PROCESS cmd="include" data="autoload_configs/*.xml"/>
  </section>
  <section name="dialplan" description="Regex/XML Dialplan">
    <X-PRE-PROCESS cmd="include" data="dialplan/*.xml"/>
  </section>
  <section name="directory" description="User Directory">
    <X-PRE-PROCESS cmd="include" data="directory/*.xml"/>
  </section>
</document>
"""

_VARS_XML = """<include>
  <X-PRE-PROCESS cmd="set" data="domain=127.0.0.1"/>
  <X-PRE-PROCESS cmd="set" data="domain_name=127.0.0.1"/>
  <X-PRE-PROCESS cmd="set" data="global_codec_prefs=PCMU,PCMA"/>
  <X-PRE-PROCESS cmd="set" data="outbound_codec_prefs=PCMU,PCMA"/>
  <X-PRE-PROCESS cmd="set" data="hold_music=local_stream://moh"/>
</include>
"""

_SOFIA_CONF = """<configuration name="sofia.conf" description="sofia Endpoint">
  <global_settings><param name="log-level" value="0"/></global_settings>
  <profiles>
    <X-PRE-PROCESS cmd="include" data="../sip_profiles/*.xml"/>
  </profiles>
</configuration>
"""

_CONSOLE_CONF = """<configuration name="console.conf" description="Console Logger">
  <mappings><map name="all" value="console,debug,info,notice,warning,err,crit,alert"/></mappings>
  <settings><param name="colorize" value="false"/><param name="loglevel" value="warning"/></settings>
</configuration>
"""

_LOGFILE_CONF = """<configuration name="logfile.conf" description="File Logging">
  <settings><param name="rotate-on-hup" value="true"/></settings>
  <profiles><profile name="default">
    <settings><param name="rollover" value="104857600"/></settings>
    <mappings><map name="all" value="console,info,notice,warning,err,crit,alert"/></mappings>
  </profile></profiles>
</configuration>
"""

_VOICEMAIL_CONF = """<configuration name="voicemail.conf" description="Voicemail">
  <settings/>
  <profiles>
    <profile name="default">
      <param name="file-extension" value="wav"/>
      <param name="terminator-key" value="#"/>
      <param name="max-login-attempts" value="3"/>
      <param name="digit-timeout" value="10000"/>
      <param name="min-record-len" value="1"/>
      <param name="max-record-len" value="60"/>
      <param name="tone-spec" value="%(1000, 0, 640)"/>
      <param name="callback-dialplan" value="XML"/>
      <param name="callback-context" value="default"/>
      <param name="play-new-messages-first" value="true"/>
      <param name="record-silence-threshold" value="200"/>
      <param name="record-silence-hits" value="2"/>
    </profile>
  </profiles>
</configuration>
"""

_DIALPLAN_XML = """<include>
  <context name="default">
    <X-PRE-PROCESS cmd="include" data="default/*.xml"/>
  </context>
</include>
"""

_DIRECTORY_XML = """<include>
  <domain name="$${domain}">
    <params>
      <param name="dial-string" value="{^^:sip_invite_domain=${dialed_domain}:presence_id=${dialed_user}@${dialed_domain}}${sofia_contact(*/${dialed_user}@${dialed_domain})}"/>
    </params>
    <groups><group name="default"><users>
      <X-PRE-PROCESS cmd="include" data="default/*.xml"/>
    </users></group></groups>
  </domain>
</include>
"""


def build_conf(
    dest: Path,
    ports: LabPorts,
    *,
    esl_password: str,
    agents_xml: str | None = None,
    modules: Iterable[str] = MODULES,
    extra_dialplan: str | None = None,
) -> Path:
    """Write a FreeSWITCH conf directory (and its sounds dir) under `dest`; returns the conf
    dir. `agents_xml` replaces the sample directory/default/esl_router_agents.xml (e.g.
    `router.fsconf.agents_xml(config, password)`); `extra_dialplan` is one more
    ``dialplan/default/`` include (extensions of a test)."""
    conf = dest / "conf"
    if conf.exists():
        shutil.rmtree(conf)
    auto = conf / "autoload_configs"
    _write(conf / "freeswitch.xml", _FREESWITCH_XML)
    _write(conf / "vars.xml", _VARS_XML)
    loads = "\n".join(f'    <load module="{m}"/>' for m in modules)
    _write(
        auto / "modules.conf.xml",
        f'<configuration name="modules.conf" description="Modules">\n  <modules>\n{loads}\n'
        "  </modules>\n</configuration>\n",
    )
    _write(auto / "switch.conf.xml", _switch_conf(ports))
    _write(auto / "event_socket.conf.xml", _event_socket(ports.esl, esl_password))
    shutil.copy(CONF / "autoload_configs" / "local_stream.conf.xml", auto / "local_stream.conf.xml")
    _write(auto / "sofia.conf.xml", _SOFIA_CONF)
    _write(auto / "console.conf.xml", _CONSOLE_CONF)
    _write(auto / "logfile.conf.xml", _LOGFILE_CONF)
    _write(auto / "voicemail.conf.xml", _VOICEMAIL_CONF)
    _write(conf / "sip_profiles" / "internal.xml", _sip_profile(ports.sip))
    _write(conf / "dialplan" / "default.xml", _DIALPLAN_XML)
    (conf / "dialplan" / "default").mkdir(parents=True, exist_ok=True)
    for path in (CONF / "dialplan" / "default").glob("*.xml"):
        shutil.copy(path, conf / "dialplan" / "default" / path.name)
    if extra_dialplan is not None:
        _write(conf / "dialplan" / "default" / "50_lab.xml", extra_dialplan)
    _write(conf / "directory" / "default.xml", _DIRECTORY_XML)
    agents = agents_xml or (CONF / "directory" / "default" / "esl_router_agents.xml").read_text()
    _write(conf / "directory" / "default" / "esl_router_agents.xml", agents)
    sounds = dest / "sounds"
    music = sounds / "music" / "8000" / "lab-hold-tone.wav"
    if not music.exists():
        _tone_wav(music, 10.0, 392.0)
    for prompt in PROMPTS:
        if not (sounds / prompt).exists():
            _tone_wav(sounds / prompt, 1.0)
    return conf


@dataclass
class FreeSwitch:
    """A FreeSWITCH process this module started (stop it with `stop`: by its PID only)."""

    process: subprocess.Popen[bytes]
    ports: LabPorts
    dir: Path
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self, lines: int = 40) -> str:
        """The end of FreeSWITCH's own log (freeswitch.log), for error messages."""
        path = self.dir / "log" / "freeswitch.log"
        src = path if path.exists() else self.log_path
        try:
            text = src.read_text(errors="replace").splitlines()
            return "\n".join([x for x in text if "Codec" not in x][-lines:])
        except OSError:
            return ""

    def stop(self, grace: float = 15.0) -> int | None:
        """SIGTERM to our PID (FreeSWITCH shuts down cleanly on it), SIGKILL after `grace`."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        return self.process.returncode


def _esl_ready(port: int, password: str, timeout: float) -> bool:
    """True once the event socket takes `password` and FreeSWITCH says it is ready."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                s.settimeout(3)
                f = s.makefile("rb")
                _read_message(f)
                s.sendall(f"auth {password}\n\n".encode())
                if b"+OK" not in _read_message(f):
                    return False
                s.sendall(b"api status\n\n")
                if b"is ready" in _read_message(f):
                    s.sendall(b"api sofia status\n\n")
                    if b"RUNNING" in _read_message(f):
                        return True
        except OSError:
            pass
        time.sleep(0.3)
    return False


def _read_message(f: object) -> bytes:
    """One ESL message (headers, then a Content-Length body) from a binary file object."""
    readline = f.readline  # type: ignore[attr-defined]
    read = f.read  # type: ignore[attr-defined]
    head = b""
    length = 0
    while True:
        line = readline()
        if not line:
            raise OSError("event socket closed")
        if line in (b"\n", b"\r\n"):
            if head:
                break
            continue
        head += line
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    body: bytes = read(length) if length else b""
    return head + body


def start(
    prefix: str | os.PathLike[str],
    dest: Path,
    ports: LabPorts,
    *,
    esl_password: str,
    timeout: float = 60.0,
    priority: str = "-np",
) -> FreeSwitch:
    """Start ``<prefix>/bin/freeswitch -nonat -nf -nc`` on the conf dir `build_conf` wrote into
    `dest` (log, db, run and the other dirs also under `dest`), and wait until the event socket
    answers and the SIP profile runs. RuntimeError with the log's tail if it does not.

    `priority` is FreeSWITCH's scheduling flag. Its own default on a machine with more than one
    core is real-time (SCHED_FIFO for all its threads): on a box it shares with the router and
    SIPp, a busy FreeSWITCH then starves both, and the router answers events seconds late (seen
    at 40 calls/s on 2 cores). ``-np`` (normal) keeps the measurement about the router; pass
    ``""`` for FreeSWITCH's default."""
    exe = freeswitch_binary(prefix)
    dirs = {name: dest / name for name in ("log", "db", "run", "temp", "cache", "storage", "recordings")}
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    args = [str(exe), *([priority] if priority else []), "-nonat", "-nf", "-nc", "-conf", str(dest / "conf"), "-sounds", str(dest / "sounds")]
    for name, d in dirs.items():
        args += [f"-{name}", str(d)]
    args += ["-mod", str(Path(prefix) / "lib" / "freeswitch" / "mod")]
    log_path = dest / "freeswitch.stdout"
    with log_path.open("wb") as out:
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    fs = FreeSwitch(proc, ports, dest, log_path)
    if not _esl_ready(ports.esl, esl_password, timeout) or proc.poll() is not None:
        fs.stop()
        raise RuntimeError(f"FreeSWITCH did not come up on 127.0.0.1:{ports.esl}:\n{fs.log_tail()}")
    return fs


def _main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--prefix", default=os.environ.get("ESL_ROUTER_FREESWITCH", ""))
    p.add_argument("--dir", type=Path, required=True, help="where conf, log, db... go")
    p.add_argument("--config", type=Path, help="router config: its agents become directory users")
    p.add_argument("--sip-port", type=int, default=5060)
    p.add_argument("--esl-port", type=int, default=8021)
    p.add_argument("--agent-password", default="lab-agent-1234")
    args = p.parse_args(argv)
    password = os.environ.get("ESL_ROUTER_ESL_PASSWORD", "")
    if not args.prefix or not password:
        p.error("need --prefix (or ESL_ROUTER_FREESWITCH) and ESL_ROUTER_ESL_PASSWORD")
    agents = None
    if args.config is not None:
        from router.config import load_config
        from router.fsconf import agents_xml

        agents = agents_xml(load_config(args.config), args.agent_password)
    ports = LabPorts(sip=args.sip_port, esl=args.esl_port)
    build_conf(args.dir, ports, esl_password=password, agents_xml=agents)
    fs = start(args.prefix, args.dir, ports, esl_password=password)
    print(f"FreeSWITCH pid {fs.pid}: SIP 127.0.0.1:{ports.sip}, ESL 127.0.0.1:{ports.esl}", flush=True)
    try:
        fs.process.wait()
    except KeyboardInterrupt:
        pass
    finally:
        fs.stop()
    return 0


if __name__ == "__main__":
    sys.exit(_main())
