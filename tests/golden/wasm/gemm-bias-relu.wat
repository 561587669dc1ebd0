(module
 (type $0 (func))
 (memory $0 1 1)
 (export "memory" (memory $0))
 (export "run" (func $run))
 (func $k0_gemm_relu
  (local $0 i32)
  (local $1 v128)
  (local $2 i32)
  (local $3 i32)
  (local $4 v128)
  (local $5 v128)
  (local $6 v128)
  (local $7 v128)
  (local $8 v128)
  (local $9 v128)
  (local $10 v128)
  (local $11 v128)
  (local $12 i32)
  (local $13 v128)
  (local $14 i32)
  (local $15 f32)
  (local $16 i32)
  (local $17 f32)
  (local $18 i32)
  (local $19 f32)
  (local $20 i32)
  (local $21 f32)
  (loop $L0
   (local.set $2
    (i32.const 0)
   )
   (loop $L1
    (local.set $6
     (v128.const i32x4 0x00000000 0x00000000 0x00000000 0x00000000)
    )
    (local.set $4
     (v128.const i32x4 0x00000000 0x00000000 0x00000000 0x00000000)
    )
    (local.set $7
     (v128.const i32x4 0x00000000 0x00000000 0x00000000 0x00000000)
    )
    (local.set $8
     (v128.const i32x4 0x00000000 0x00000000 0x00000000 0x00000000)
    )
    (local.set $5
     (v128.const i32x4 0x00000000 0x00000000 0x00000000 0x00000000)
    )
    (local.set $9
     (v128.const i32x4 0x00000000 0x00000000 0x00000000 0x00000000)
    )
    (local.set $10
     (v128.const i32x4 0x00000000 0x00000000 0x00000000 0x00000000)
    )
    (local.set $11
     (v128.const i32x4 0x00000000 0x00000000 0x00000000 0x00000000)
    )
    (local.set $0
     (i32.const 0)
    )
    (loop $L2
     (local.set $6
      (f32x4.add
       (local.get $6)
       (f32x4.mul
        (f32x4.splat
         (local.tee $15
          (f32.load offset=384
           (i32.shl
            (i32.add
             (i32.mul
              (local.get $3)
              (i32.const 6)
             )
             (local.get $0)
            )
            (i32.const 2)
           )
          )
         )
        )
        (local.tee $1
         (v128.load align=4
          (i32.shl
           (i32.add
            (local.tee $12
             (i32.shl
              (local.get $0)
              (i32.const 3)
             )
            )
            (local.get $2)
           )
           (i32.const 2)
          )
         )
        )
       )
      )
     )
     (local.set $4
      (f32x4.add
       (local.get $4)
       (f32x4.mul
        (f32x4.splat
         (local.tee $17
          (f32.load offset=384
           (i32.shl
            (i32.add
             (i32.mul
              (local.tee $16
               (i32.add
                (local.get $3)
                (i32.const 1)
               )
              )
              (i32.const 6)
             )
             (local.get $0)
            )
            (i32.const 2)
           )
          )
         )
        )
        (local.get $1)
       )
      )
     )
     (local.set $7
      (f32x4.add
       (local.get $7)
       (f32x4.mul
        (f32x4.splat
         (local.tee $19
          (f32.load offset=384
           (i32.shl
            (i32.add
             (i32.mul
              (local.tee $18
               (i32.add
                (local.get $3)
                (i32.const 2)
               )
              )
              (i32.const 6)
             )
             (local.get $0)
            )
            (i32.const 2)
           )
          )
         )
        )
        (local.get $1)
       )
      )
     )
     (local.set $8
      (f32x4.add
       (local.get $8)
       (f32x4.mul
        (f32x4.splat
         (local.tee $21
          (f32.load offset=384
           (i32.shl
            (i32.add
             (i32.mul
              (local.tee $20
               (i32.add
                (local.get $3)
                (i32.const 3)
               )
              )
              (i32.const 6)
             )
             (local.get $0)
            )
            (i32.const 2)
           )
          )
         )
        )
        (local.get $1)
       )
      )
     )
     (local.set $5
      (f32x4.add
       (local.get $5)
       (f32x4.mul
        (f32x4.splat
         (local.get $15)
        )
        (local.tee $1
         (v128.load align=4
          (i32.shl
           (i32.add
            (local.get $12)
            (local.tee $14
             (i32.add
              (local.get $2)
              (i32.const 4)
             )
            )
           )
           (i32.const 2)
          )
         )
        )
       )
      )
     )
     (local.set $9
      (f32x4.add
       (local.get $9)
       (f32x4.mul
        (f32x4.splat
         (local.get $17)
        )
        (local.get $1)
       )
      )
     )
     (local.set $10
      (f32x4.add
       (local.get $10)
       (f32x4.mul
        (f32x4.splat
         (local.get $19)
        )
        (local.get $1)
       )
      )
     )
     (local.set $11
      (f32x4.add
       (local.get $11)
       (f32x4.mul
        (f32x4.splat
         (local.get $21)
        )
        (local.get $1)
       )
      )
     )
     (br_if $L2
      (i32.lt_s
       (local.tee $0
        (i32.add
         (local.get $0)
         (i32.const 1)
        )
       )
       (i32.const 6)
      )
     )
    )
    (local.set $4
     (f32x4.max
      (f32x4.add
       (local.get $4)
       (local.tee $1
        (v128.load offset=192 align=4
         (i32.shl
          (local.get $2)
          (i32.const 2)
         )
        )
       )
      )
      (v128.const i32x4 0x00000000 0x00000000 0x00000000 0x00000000)
     )
    )
    (local.set $5
     (f32x4.max
      (f32x4.add
       (local.get $5)
       (local.tee $13
        (v128.load offset=192 align=4
         (i32.shl
          (local.get $14)
          (i32.const 2)
         )
        )
       )
      )
      (v128.const i32x4 0x00000000 0x00000000 0x00000000 0x00000000)
     )
    )
    (v128.store offset=256 align=4
     (i32.shl
      (local.tee $0
       (i32.add
        (local.tee $12
         (i32.shl
          (local.get $3)
          (i32.const 3)
         )
        )
        (local.get $2)
       )
      )
      (i32.const 2)
     )
     (f32x4.max
      (f32x4.add
       (local.get $6)
       (local.get $1)
      )
      (v128.const i32x4 0x00000000 0x00000000 0x00000000 0x00000000)
     )
    )
    (v128.store offset=256 align=4
     (i32.shl
      (i32.add
       (i32.shl
        (local.get $16)
        (i32.const 3)
       )
       (local.get $2)
      )
      (i32.const 2)
     )
     (local.get $4)
    )
    (v128.store offset=256 align=4
     (i32.shl
      (i32.add
       (i32.shl
        (local.get $18)
        (i32.const 3)
       )
       (local.get $2)
      )
      (i32.const 2)
     )
     (f32x4.max
      (f32x4.add
       (local.get $7)
       (local.get $1)
      )
      (v128.const i32x4 0x00000000 0x00000000 0x00000000 0x00000000)
     )
    )
    (v128.store offset=256 align=4
     (i32.shl
      (i32.add
       (i32.shl
        (local.get $20)
        (i32.const 3)
       )
       (local.get $2)
      )
      (i32.const 2)
     )
     (f32x4.max
      (f32x4.add
       (local.get $8)
       (local.get $1)
      )
      (v128.const i32x4 0x00000000 0x00000000 0x00000000 0x00000000)
     )
    )
    (v128.store offset=256 align=4
     (i32.shl
      (i32.add
       (local.get $12)
       (local.get $14)
      )
      (i32.const 2)
     )
     (local.get $5)
    )
    (v128.store offset=256 align=4
     (i32.shl
      (i32.add
       (local.get $0)
       (i32.const 12)
      )
      (i32.const 2)
     )
     (f32x4.max
      (f32x4.add
       (local.get $9)
       (local.get $13)
      )
      (v128.const i32x4 0x00000000 0x00000000 0x00000000 0x00000000)
     )
    )
    (v128.store offset=256 align=4
     (i32.shl
      (i32.add
       (local.get $0)
       (i32.const 20)
      )
      (i32.const 2)
     )
     (f32x4.max
      (f32x4.add
       (local.get $10)
       (local.get $13)
      )
      (v128.const i32x4 0x00000000 0x00000000 0x00000000 0x00000000)
     )
    )
    (v128.store offset=256 align=4
     (i32.shl
      (i32.add
       (local.get $0)
       (i32.const 28)
      )
      (i32.const 2)
     )
     (f32x4.max
      (f32x4.add
       (local.get $11)
       (local.get $13)
      )
      (v128.const i32x4 0x00000000 0x00000000 0x00000000 0x00000000)
     )
    )
    (br_if $L1
     (i32.lt_s
      (local.tee $2
       (i32.add
        (local.get $2)
        (i32.const 8)
       )
      )
      (i32.const 8)
     )
    )
   )
   (br_if $L0
    (i32.lt_s
     (local.tee $3
      (i32.add
       (local.get $3)
       (i32.const 4)
      )
     )
     (i32.const 4)
    )
   )
  )
 )
 (func $run
  (call $k0_gemm_relu)
 )
)
