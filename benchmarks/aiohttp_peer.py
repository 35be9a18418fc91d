#!/usr/bin/env python3
"""The benchmark's peer: what a plain Python asyncio + aiohttp script does for one dry-run cycle of tsee's two
design-card rules (benchmarks/card.rules), against the same API. It is the yardstick tsee's CPU is compared with
(BENCHMARKS.md), so it does the same fetches and decides the same firings, and nothing more: no state, no
paging beyond one page per device, no retries.

    aiohttp_peer.py --base-url URL --client-id ID [--lookback 3600] [--concurrency 8]

The client secret comes from THINGSEE_CLIENT_SECRET. Prints one JSON line: devices, requests, firings.
"""
import argparse
import asyncio
import datetime
import json
import os
import sys
import time

import aiohttp


def parse_api_time(text):
    """The API's alert times: ISO 8601 without a zone, in UTC."""
    return int(datetime.datetime.fromisoformat(text).replace(tzinfo=datetime.timezone.utc).timestamp())


class Peer:
    def __init__(self, session, base, token, concurrency):
        self.session = session
        self.base = base.rstrip("/")
        self.headers = {"Authorization": "Bearer " + token}
        self.gate = asyncio.Semaphore(concurrency)
        self.requests = 0

    async def get(self, path, params=None):
        async with self.gate:
            self.requests += 1
            async with self.session.get(self.base + path, headers=self.headers, params=params) as response:
                response.raise_for_status()
                return (await response.json())["data"]

    async def device(self, tuid, since, alerting, now):
        """low-battery (battery below 20, from `batl`, else thing info) and gateway-lost (an open
        "gateway connection lost" alert for at least an hour)."""
        messages = await self.get(f"/things/{tuid}/messages", {"limit": "1000", "from": str(since)})
        battery = None
        newest = -1
        for m in messages:
            if "batl" in m and m.get("tsmTs", -1) > newest:
                newest, battery = m["tsmTs"], m["batl"]
        if battery is None:
            battery = (await self.get(f"/things/{tuid}")).get("battery_level")
        firings = []
        if battery is not None and battery < 20:
            firings.append(("low-battery", tuid))
        if tuid in alerting:
            for record in await self.get(f"/things/{tuid}/alerts", {"from": str(now - 86400), "to": str(now)}):
                if record.get("alert_type") != "gateway connection lost":
                    continue
                for episode in record.get("alerts", []):
                    if "to" not in episode and now - parse_api_time(episode["from"]) >= 3600:
                        firings.append(("gateway-lost", tuid))
        return firings


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--lookback", type=int, default=3600)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    secret = os.environ["THINGSEE_CLIENT_SECRET"]
    connector = aiohttp.TCPConnector(limit=args.concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        async with session.post(
            args.base_url.rstrip("/") + "/auth/client-token",
            json={"client_id": args.client_id, "client_secret": secret},
        ) as response:
            response.raise_for_status()
            token = (await response.json())["data"]["token"]
        peer = Peer(session, args.base_url, token, args.concurrency)
        peer.requests += 1
        now = int(time.time())
        groups = await peer.get("/groups")
        # Devices in no group are listed under the pseudo-group `unassigned`, as tsee reads them.
        ids = [g["group_id"] for g in groups] + ["unassigned"]
        members = await asyncio.gather(*(peer.get(f"/groups/{g}/things") for g in ids))
        tuids = sorted({t for group in members for t in group.get("tuids", [])})
        alerting = set((await peer.get("/things/alerts")).get("alerting_tuids", []))
        results = await asyncio.gather(*(peer.device(t, now - args.lookback, alerting, now) for t in tuids))
        firings = [f for r in results for f in r]
        print(json.dumps({"devices": len(tuids), "requests": peer.requests, "firings": len(firings)}))


if __name__ == "__main__":
    asyncio.run(main())
    sys.stdout.flush()
