"""The scripted Gemini API on its own (no CLI): the answers' shapes, routing and records."""

import http.client
import json
from typing import Any
from urllib.parse import urlsplit

from tests.fake_gemini import Call, FakeGemini, HttpError, Text, is_function_response

PATH = "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
TOOLS = [{"functionDeclarations": [{"name": "write_file"}]}]


def post(api: FakeGemini, body: dict[str, Any], path: str = PATH) -> tuple[int, str, str]:
    conn = http.client.HTTPConnection(urlsplit(api.base_url).netloc, timeout=5)
    try:
        conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
        response = conn.getresponse()
        return response.status, response.getheader("Content-Type") or "", response.read().decode()
    finally:
        conn.close()


def turn(text: str) -> dict[str, Any]:
    return {"contents": [{"role": "user", "parts": [{"text": text}]}], "tools": TOOLS}


def event(stream: str) -> dict[str, Any]:
    """The one server-sent event of a streamed answer."""
    [data] = [chunk for chunk in stream.split("\r\n\r\n") if chunk]
    assert data.startswith("data: ")
    parsed: dict[str, Any] = json.loads(data.removeprefix("data: "))
    return parsed


def test_answers_follow_the_script_then_say_done() -> None:
    call = Call("write_file", {"file_path": "a.txt", "content": "x"}, text="Writing.")
    with FakeGemini([call, HttpError(429)]) as api:
        status, kind, stream = post(api, turn("hi"))
        assert (status, kind) == (200, "text/event-stream")
        answer = event(stream)
        [candidate] = answer["candidates"]
        assert candidate["finishReason"] == "STOP"
        assert candidate["content"]["parts"] == [
            {"text": "Writing."},
            {
                "functionCall": {
                    "name": "write_file",
                    "args": {"file_path": "a.txt", "content": "x"},
                }
            },
        ]
        assert answer["usageMetadata"]["promptTokenCount"] == 100

        status, kind, body = post(api, turn("again"))
        assert (status, kind) == (429, "application/json")
        assert json.loads(body)["error"] == {
            "code": 429,
            "message": "scripted 429",
            "status": "RESOURCE_EXHAUSTED",
        }
        _, _, stream = post(api, turn("more"))
        assert event(stream)["candidates"][0]["content"]["parts"] == [{"text": "done"}]
        assert api.models == ["gemini-2.5-flash"] * 3
        assert api.answers == [call, HttpError(429), Text("done")]


def test_side_requests_unknown_paths_and_reset() -> None:
    with FakeGemini([Text("for the agent")]) as api:
        _, _, stream = post(api, {"contents": []})  # no tools: a side request
        assert event(stream)["candidates"][0]["content"]["parts"] == [{"text": "done"}]
        assert post(api, turn("x"), "/v1beta/models/m:countTokens")[0] == 404
        _, _, stream = post(api, turn("x"))
        assert event(stream)["candidates"][0]["content"]["parts"] == [{"text": "for the agent"}]
        assert [entry.status for entry in api.log] == [200, 404, 200]

        api.reset([Text("new")], respond=lambda body: Text("answered"))
        assert (api.requests, api.log) == ([], [])
        _, _, stream = post(api, turn("x"))
        assert event(stream)["candidates"][0]["content"]["parts"] == [{"text": "answered"}]
        assert api.script == [Text("new")]
        response = {"role": "user", "parts": [{"functionResponse": {"name": "write_file"}}]}
        assert is_function_response({"contents": [response]})
        assert not is_function_response(turn("x"))
