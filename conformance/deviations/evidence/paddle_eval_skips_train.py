"""paddle.nn.Layer.eval() sets ``training`` on every sublayer directly; it does not call
``self.train(False)`` (torch documents eval() as "equivalent with self.train(False)"), so a
subclass overriding train() is bypassed.

Exits 0 while eval() does not call the override, 1 once it does."""
import paddle

calls = []


class Recording(paddle.nn.Layer):
    def train(self, mode=True):
        calls.append(mode)
        return super().train(mode)


Recording().eval()
print("calls of the overridden train() made by eval():", calls)
reproduced = calls != [False]
print("REPRODUCED" if reproduced else "NOT REPRODUCED")
raise SystemExit(0 if reproduced else 1)
