;; Decode-attention products for one query row per (batch row, head), in WebAssembly SIMD, reading and
;; writing tfjs-wasm's own memory (imported). tfjs-wasm runs batched products in a scalar loop; these two
;; are the whole per-row cost of a decode step's attention. Layouts (float32, contiguous, byte offsets):
;;   q [C,hd]   k, v [C/H·Hkv, S, hd]   p [C,T]   with C = B·H query rows, head h of batch row b
;;   reading kv head b·Hkv + h/(H/Hkv) (grouped-query attention, HF repeat_kv order). Only the first T
;;   of each kv head's S rows are read: the KV cache keeps spare rows to grow into (kv-cache.ts).
;; Build: npm run build:kernels (assembles this file into wasm-kernels-module.ts).
(module
  (import "env" "memory" (memory 1))

  ;; byte offset of the kv head serving query row c
  (func $kvRow (param $c i32) (param $H i32) (param $Hkv i32) (result i32)
    (i32.add
      (i32.mul (i32.div_u (local.get $c) (local.get $H)) (local.get $Hkv))
      (i32.div_u (i32.rem_u (local.get $c) (local.get $H)) (i32.div_u (local.get $H) (local.get $Hkv)))))

  ;; out[c,t] = Σ_d q[c,d]·k[kv(c),t,d]  (t < T). Four positions at a time, each in its own accumulator
  ;; (one position's chain of dependent adds alone leaves the core waiting on each add), their lane sums
  ;; formed together by shuffles; then the last T mod 4 positions one at a time. Lane sums are
  ;; (l0+l2)+(l1+l3) on both paths; dims past the last multiple of 4 are added after them.
  (func (export "qk") (param $q i32) (param $k i32) (param $out i32) (param $C i32) (param $T i32) (param $S i32)
        (param $hd i32) (param $H i32) (param $Hkv i32)
    (local $c i32) (local $t i32) (local $d i32) (local $i i32) (local $qrow i32) (local $krow i32) (local $o i32)
    (local $hd4 i32) (local $rowBytes i32) (local $at i32) (local $s f32)
    (local $qv v128) (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local.set $hd4 (i32.and (local.get $hd) (i32.const -4)))
    (local.set $rowBytes (i32.shl (local.get $hd) (i32.const 2)))
    (block $cdone (loop $cloop
      (br_if $cdone (i32.ge_u (local.get $c) (local.get $C)))
      (local.set $qrow (i32.add (local.get $q) (i32.mul (local.get $c) (local.get $rowBytes))))
      (local.set $krow (i32.add (local.get $k)
        (i32.mul (i32.mul (call $kvRow (local.get $c) (local.get $H) (local.get $Hkv)) (local.get $S)) (local.get $rowBytes))))
      (local.set $o (i32.add (local.get $out) (i32.shl (i32.mul (local.get $c) (local.get $T)) (i32.const 2))))
      (local.set $t (i32.const 0))
      (block $t4done (loop $t4loop
        (br_if $t4done (i32.gt_u (i32.add (local.get $t) (i32.const 4)) (local.get $T)))
        (local.set $a0 (v128.const f32x4 0 0 0 0))
        (local.set $a1 (v128.const f32x4 0 0 0 0))
        (local.set $a2 (v128.const f32x4 0 0 0 0))
        (local.set $a3 (v128.const f32x4 0 0 0 0))
        (local.set $d (i32.const 0))
        (block $vdone (loop $vloop
          (br_if $vdone (i32.ge_u (local.get $d) (local.get $hd4)))
          (local.set $qv (v128.load (i32.add (local.get $qrow) (i32.shl (local.get $d) (i32.const 2)))))
          (local.set $at (i32.add (local.get $krow) (i32.shl (local.get $d) (i32.const 2))))
          (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $qv) (v128.load (local.get $at)))))
          (local.set $at (i32.add (local.get $at) (local.get $rowBytes)))
          (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $qv) (v128.load (local.get $at)))))
          (local.set $at (i32.add (local.get $at) (local.get $rowBytes)))
          (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $qv) (v128.load (local.get $at)))))
          (local.set $at (i32.add (local.get $at) (local.get $rowBytes)))
          (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (local.get $qv) (v128.load (local.get $at)))))
          (local.set $d (i32.add (local.get $d) (i32.const 4)))
          (br $vloop)))
        ;; [a0 lanes 0+2, a0 1+3, a1 0+2, a1 1+3] and the same for a2, a3; then the four sums
        (local.set $a0 (f32x4.add
          (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $a0) (local.get $a1))
          (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $a0) (local.get $a1))))
        (local.set $a2 (f32x4.add
          (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $a2) (local.get $a3))
          (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $a2) (local.get $a3))))
        (v128.store (i32.add (local.get $o) (i32.shl (local.get $t) (i32.const 2)))
          (f32x4.add
            (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27 (local.get $a0) (local.get $a2))
            (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31 (local.get $a0) (local.get $a2))))
        (if (i32.lt_u (local.get $hd4) (local.get $hd)) (then
          (local.set $i (i32.const 0))
          (block $idone (loop $iloop
            (br_if $idone (i32.ge_u (local.get $i) (i32.const 4)))
            (local.set $at (i32.add (local.get $o) (i32.shl (i32.add (local.get $t) (local.get $i)) (i32.const 2))))
            (f32.store (local.get $at) (f32.add (f32.load (local.get $at))
              (call $tail (local.get $qrow) (i32.add (local.get $krow) (i32.mul (local.get $i) (local.get $rowBytes))) (local.get $hd4) (local.get $hd))))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $iloop)))))
        (local.set $krow (i32.add (local.get $krow) (i32.shl (local.get $rowBytes) (i32.const 2))))
        (local.set $t (i32.add (local.get $t) (i32.const 4)))
        (br $t4loop)))
      (block $tdone (loop $tloop
        (br_if $tdone (i32.ge_u (local.get $t) (local.get $T)))
        (local.set $a0 (v128.const f32x4 0 0 0 0))
        (local.set $d (i32.const 0))
        (block $vdone (loop $vloop
          (br_if $vdone (i32.ge_u (local.get $d) (local.get $hd4)))
          (local.set $a0 (f32x4.add (local.get $a0)
            (f32x4.mul
              (v128.load (i32.add (local.get $qrow) (i32.shl (local.get $d) (i32.const 2))))
              (v128.load (i32.add (local.get $krow) (i32.shl (local.get $d) (i32.const 2)))))))
          (local.set $d (i32.add (local.get $d) (i32.const 4)))
          (br $vloop)))
        (local.set $s (f32.add
          (f32.add (f32x4.extract_lane 0 (local.get $a0)) (f32x4.extract_lane 2 (local.get $a0)))
          (f32.add (f32x4.extract_lane 1 (local.get $a0)) (f32x4.extract_lane 3 (local.get $a0)))))
        (f32.store (i32.add (local.get $o) (i32.shl (local.get $t) (i32.const 2)))
          (f32.add (local.get $s) (call $tail (local.get $qrow) (local.get $krow) (local.get $hd4) (local.get $hd))))
        (local.set $krow (i32.add (local.get $krow) (local.get $rowBytes)))
        (local.set $t (i32.add (local.get $t) (i32.const 1)))
        (br $tloop)))
      (local.set $c (i32.add (local.get $c) (i32.const 1)))
      (br $cloop))))

  ;; Σ_{from ≤ d < to} a[d]·b[d], one dim at a time (head sizes that are not a multiple of 4)
  (func $tail (param $a i32) (param $b i32) (param $from i32) (param $to i32) (result f32)
    (local $s f32)
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $from) (local.get $to)))
      (local.set $s (f32.add (local.get $s) (f32.mul
        (f32.load (i32.add (local.get $a) (i32.shl (local.get $from) (i32.const 2))))
        (f32.load (i32.add (local.get $b) (i32.shl (local.get $from) (i32.const 2)))))))
      (local.set $from (i32.add (local.get $from) (i32.const 1)))
      (br $next)))
    (local.get $s))

  ;; out[c,d] = Σ_t p[c,t]·v[kv(c),t,d]. Sixteen dims at a time in four accumulators held in locals over
  ;; all positions (adding into memory at every position chains each add to the previous store), then
  ;; four dims, then single dims. Every output is the same ordered sum over t on all three paths.
  (func (export "pv") (param $p i32) (param $v i32) (param $out i32) (param $C i32) (param $T i32) (param $S i32)
        (param $hd i32) (param $H i32) (param $Hkv i32)
    (local $c i32) (local $t i32) (local $d i32) (local $prow i32) (local $vrow i32) (local $orow i32)
    (local $rowBytes i32) (local $at i32) (local $s f32)
    (local $w v128) (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local.set $rowBytes (i32.shl (local.get $hd) (i32.const 2)))
    (block $cdone (loop $cloop
      (br_if $cdone (i32.ge_u (local.get $c) (local.get $C)))
      (local.set $prow (i32.add (local.get $p) (i32.shl (i32.mul (local.get $c) (local.get $T)) (i32.const 2))))
      (local.set $orow (i32.add (local.get $out) (i32.mul (local.get $c) (local.get $rowBytes))))
      (local.set $vrow (i32.add (local.get $v)
        (i32.mul (i32.mul (call $kvRow (local.get $c) (local.get $H) (local.get $Hkv)) (local.get $S)) (local.get $rowBytes))))
      (local.set $d (i32.const 0))
      (block $d16done (loop $d16loop
        (br_if $d16done (i32.gt_u (i32.add (local.get $d) (i32.const 16)) (local.get $hd)))
        (local.set $a0 (v128.const f32x4 0 0 0 0))
        (local.set $a1 (v128.const f32x4 0 0 0 0))
        (local.set $a2 (v128.const f32x4 0 0 0 0))
        (local.set $a3 (v128.const f32x4 0 0 0 0))
        (local.set $at (i32.add (local.get $vrow) (i32.shl (local.get $d) (i32.const 2))))
        (local.set $t (i32.const 0))
        (block $tdone (loop $tloop
          (br_if $tdone (i32.ge_u (local.get $t) (local.get $T)))
          (local.set $w (f32x4.splat (f32.load (i32.add (local.get $prow) (i32.shl (local.get $t) (i32.const 2))))))
          (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $w) (v128.load (local.get $at)))))
          (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $w) (v128.load offset=16 (local.get $at)))))
          (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $w) (v128.load offset=32 (local.get $at)))))
          (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (local.get $w) (v128.load offset=48 (local.get $at)))))
          (local.set $at (i32.add (local.get $at) (local.get $rowBytes)))
          (local.set $t (i32.add (local.get $t) (i32.const 1)))
          (br $tloop)))
        (local.set $at (i32.add (local.get $orow) (i32.shl (local.get $d) (i32.const 2))))
        (v128.store (local.get $at) (local.get $a0))
        (v128.store offset=16 (local.get $at) (local.get $a1))
        (v128.store offset=32 (local.get $at) (local.get $a2))
        (v128.store offset=48 (local.get $at) (local.get $a3))
        (local.set $d (i32.add (local.get $d) (i32.const 16)))
        (br $d16loop)))
      (block $d4done (loop $d4loop
        (br_if $d4done (i32.gt_u (i32.add (local.get $d) (i32.const 4)) (local.get $hd)))
        (local.set $a0 (v128.const f32x4 0 0 0 0))
        (local.set $at (i32.add (local.get $vrow) (i32.shl (local.get $d) (i32.const 2))))
        (local.set $t (i32.const 0))
        (block $tdone (loop $tloop
          (br_if $tdone (i32.ge_u (local.get $t) (local.get $T)))
          (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul
            (f32x4.splat (f32.load (i32.add (local.get $prow) (i32.shl (local.get $t) (i32.const 2)))))
            (v128.load (local.get $at)))))
          (local.set $at (i32.add (local.get $at) (local.get $rowBytes)))
          (local.set $t (i32.add (local.get $t) (i32.const 1)))
          (br $tloop)))
        (v128.store (i32.add (local.get $orow) (i32.shl (local.get $d) (i32.const 2))) (local.get $a0))
        (local.set $d (i32.add (local.get $d) (i32.const 4)))
        (br $d4loop)))
      (block $d1done (loop $d1loop
        (br_if $d1done (i32.ge_u (local.get $d) (local.get $hd)))
        (local.set $s (f32.const 0))
        (local.set $at (i32.add (local.get $vrow) (i32.shl (local.get $d) (i32.const 2))))
        (local.set $t (i32.const 0))
        (block $tdone (loop $tloop
          (br_if $tdone (i32.ge_u (local.get $t) (local.get $T)))
          (local.set $s (f32.add (local.get $s) (f32.mul
            (f32.load (i32.add (local.get $prow) (i32.shl (local.get $t) (i32.const 2))))
            (f32.load (local.get $at)))))
          (local.set $at (i32.add (local.get $at) (local.get $rowBytes)))
          (local.set $t (i32.add (local.get $t) (i32.const 1)))
          (br $tloop)))
        (f32.store (i32.add (local.get $orow) (i32.shl (local.get $d) (i32.const 2))) (local.get $s))
        (local.set $d (i32.add (local.get $d) (i32.const 1)))
        (br $d1loop)))
      (local.set $c (i32.add (local.get $c) (i32.const 1)))
      (br $cloop))))
;; The plausibility cutoff of B rows of V logits, without leaving wasm memory: per row, the max
;; (NaN ignored, as JS `x > max`), cut = logEps + max in float32, masked[v] = logits[v] unless
;; logits[v] < cut (then −∞; NaN is never below the cut), and kept = [count, indices…] (at most maxKept
;; indices are written; a count above maxKept tells the caller to scan the masked row itself).
(func (export "cutoff") (param $logits i32) (param $B i32) (param $V i32) (param $logEps f32)
      (param $masked i32) (param $kept i32) (param $maxKept i32)
  (local $b i32) (local $i i32) (local $n i32) (local $row i32) (local $out i32) (local $idx i32)
  (local $V4 i32) (local $V16 i32) (local $bits i32) (local $m f32) (local $xs f32) (local $cut f32)
  (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128) (local $x v128) (local $below v128) (local $cutv v128)
  (local.set $V4 (i32.and (local.get $V) (i32.const -4)))
  (local.set $V16 (i32.and (local.get $V) (i32.const -16)))
  (block $bdone (loop $bloop
    (br_if $bdone (i32.ge_u (local.get $b) (local.get $B)))
    (local.set $row (i32.add (local.get $logits) (i32.shl (i32.mul (local.get $b) (local.get $V)) (i32.const 2))))
    (local.set $out (i32.add (local.get $masked) (i32.shl (i32.mul (local.get $b) (local.get $V)) (i32.const 2))))
    (local.set $idx (i32.add (local.get $kept) (i32.shl (i32.mul (local.get $b) (i32.add (local.get $maxKept) (i32.const 1))) (i32.const 2))))
    ;; pass 1: the max. pmax(a, x) keeps a unless a < x, so NaN is never taken; sixteen values per step
    ;; in four independent chains, then four at a time, then one at a time
    (local.set $a0 (v128.const f32x4 -inf -inf -inf -inf))
    (local.set $a1 (local.get $a0))
    (local.set $a2 (local.get $a0))
    (local.set $a3 (local.get $a0))
    (local.set $i (i32.const 0))
    (block $d16 (loop $l16
      (br_if $d16 (i32.ge_u (local.get $i) (local.get $V16)))
      (local.set $a0 (f32x4.pmax (local.get $a0) (v128.load (i32.add (local.get $row) (i32.shl (local.get $i) (i32.const 2))))))
      (local.set $a1 (f32x4.pmax (local.get $a1) (v128.load offset=16 (i32.add (local.get $row) (i32.shl (local.get $i) (i32.const 2))))))
      (local.set $a2 (f32x4.pmax (local.get $a2) (v128.load offset=32 (i32.add (local.get $row) (i32.shl (local.get $i) (i32.const 2))))))
      (local.set $a3 (f32x4.pmax (local.get $a3) (v128.load offset=48 (i32.add (local.get $row) (i32.shl (local.get $i) (i32.const 2))))))
      (local.set $i (i32.add (local.get $i) (i32.const 16)))
      (br $l16)))
    (local.set $a0 (f32x4.pmax (f32x4.pmax (local.get $a0) (local.get $a1)) (f32x4.pmax (local.get $a2) (local.get $a3))))
    (block $d4 (loop $l4
      (br_if $d4 (i32.ge_u (local.get $i) (local.get $V4)))
      (local.set $a0 (f32x4.pmax (local.get $a0) (v128.load (i32.add (local.get $row) (i32.shl (local.get $i) (i32.const 2))))))
      (local.set $i (i32.add (local.get $i) (i32.const 4)))
      (br $l4)))
    (local.set $m (f32x4.extract_lane 0 (local.get $a0)))
    (local.set $xs (f32x4.extract_lane 1 (local.get $a0)))
    (if (f32.lt (local.get $m) (local.get $xs)) (then (local.set $m (local.get $xs))))
    (local.set $xs (f32x4.extract_lane 2 (local.get $a0)))
    (if (f32.lt (local.get $m) (local.get $xs)) (then (local.set $m (local.get $xs))))
    (local.set $xs (f32x4.extract_lane 3 (local.get $a0)))
    (if (f32.lt (local.get $m) (local.get $xs)) (then (local.set $m (local.get $xs))))
    (block $d1 (loop $l1
      (br_if $d1 (i32.ge_u (local.get $i) (local.get $V)))
      (local.set $xs (f32.load (i32.add (local.get $row) (i32.shl (local.get $i) (i32.const 2)))))
      (if (f32.lt (local.get $m) (local.get $xs)) (then (local.set $m (local.get $xs))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $l1)))
    (local.set $cut (f32.add (local.get $logEps) (local.get $m)))
    (local.set $cutv (f32x4.splat (local.get $cut)))
    ;; pass 2: four at a time, −∞ in the lanes below the cut (a NaN lane never is); the indices of the
    ;; kept lanes (few) from the lane mask, lowest first
    (local.set $n (i32.const 0))
    (local.set $i (i32.const 0))
    (block $e4 (loop $m4
      (br_if $e4 (i32.ge_u (local.get $i) (local.get $V4)))
      (local.set $x (v128.load (i32.add (local.get $row) (i32.shl (local.get $i) (i32.const 2)))))
      (local.set $below (f32x4.lt (local.get $x) (local.get $cutv)))
      (v128.store (i32.add (local.get $out) (i32.shl (local.get $i) (i32.const 2)))
        (v128.bitselect (v128.const f32x4 -inf -inf -inf -inf) (local.get $x) (local.get $below)))
      (local.set $bits (i32.xor (i32x4.bitmask (local.get $below)) (i32.const 15)))
      (block $kdone (loop $kloop
        (br_if $kdone (i32.eqz (local.get $bits)))
        (if (i32.lt_u (local.get $n) (local.get $maxKept))
          (then (i32.store (i32.add (local.get $idx) (i32.shl (i32.add (local.get $n) (i32.const 1)) (i32.const 2)))
            (i32.add (local.get $i) (i32.ctz (local.get $bits))))))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (local.set $bits (i32.and (local.get $bits) (i32.sub (local.get $bits) (i32.const 1))))
        (br $kloop)))
      (local.set $i (i32.add (local.get $i) (i32.const 4)))
      (br $m4)))
    (block $e1 (loop $m1
      (br_if $e1 (i32.ge_u (local.get $i) (local.get $V)))
      (local.set $xs (f32.load (i32.add (local.get $row) (i32.shl (local.get $i) (i32.const 2)))))
      (if (f32.lt (local.get $xs) (local.get $cut))
        (then (f32.store (i32.add (local.get $out) (i32.shl (local.get $i) (i32.const 2))) (f32.const -inf)))
        (else
          (f32.store (i32.add (local.get $out) (i32.shl (local.get $i) (i32.const 2))) (local.get $xs))
          (if (i32.lt_u (local.get $n) (local.get $maxKept))
            (then (i32.store (i32.add (local.get $idx) (i32.shl (i32.add (local.get $n) (i32.const 1)) (i32.const 2))) (local.get $i))))
          (local.set $n (i32.add (local.get $n) (i32.const 1)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $m1)))
    (i32.store (local.get $idx) (local.get $n))
    (local.set $b (i32.add (local.get $b) (i32.const 1)))
    (br $bloop))))
)
