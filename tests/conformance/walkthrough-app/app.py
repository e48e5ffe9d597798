# The Getting Started app: Flask on 8080, lifecycle hooks on 9000. What the
# hooks receive is kept in memory and shown on /hooks, and / counts its hits,
# so the walkthrough can check the /run body and that the app's memory
# survives an idle suspend and the auto-resume.
import threading

from flask import Flask, jsonify, request

app = Flask(__name__)
lock = threading.Lock()
hits = 0
received = []  # {"hook": name, "body": text}, in arrival order


@app.get("/")
def root():
    global hits
    with lock:
        hits += 1
        return jsonify(message="Hello, World!", hits=hits)


@app.get("/hooks")
def seen():
    with lock:
        return jsonify(received)


hooks = Flask("hooks")
P = "/aws/lambda-microvms/runtime/v1"


def hook(name):
    def answer():
        with lock:
            received.append({"hook": name, "body": request.get_data(as_text=True)})
        return "", 200
    return answer


for h in ("ready", "run", "resume", "suspend", "terminate"):
    hooks.add_url_rule("%s/%s" % (P, h), h, hook(h), methods=["POST"])

if __name__ == "__main__":
    threading.Thread(target=lambda: hooks.run(host="0.0.0.0", port=9000), daemon=True).start()
    app.run(host="0.0.0.0", port=8080)
