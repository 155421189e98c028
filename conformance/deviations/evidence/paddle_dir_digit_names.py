"""dir() of a paddle.nn.Sequential lists its numbered sublayer names ('0'), which are no valid
attribute names; torch's Module.__dir__ leaves names starting with a digit out.

Exits 0 while '0' is listed, 1 once it is not."""
import paddle

seq = paddle.nn.Sequential(paddle.nn.ReLU())
digits = [name for name in dir(seq) if name[:1].isdigit()]
print("names starting with a digit in dir(paddle.nn.Sequential(ReLU())):", digits)
reproduced = digits == ["0"]
print("REPRODUCED" if reproduced else "NOT REPRODUCED")
raise SystemExit(0 if reproduced else 1)
