(module
 (type $0 (func))
 (memory $0 1 1)
 (export "memory" (memory $0))
 (export "run" (func $run))
 (func $k0_softmax
  (local $0 i32)
  (local $1 v128)
  (local $2 f32)
  (local $3 v128)
  (local $4 i32)
  (local $5 f32)
  (local $6 f32)
  (local $7 i32)
  (local $8 v128)
  (local $9 v128)
  (local $10 f32)
  (local $11 f32)
  (loop $L0
   (local.set $7
    (i32.const 0)
   )
   (loop $L1
    (local.set $1
     (v128.const i32x4 0xff800000 0xff800000 0xff800000 0xff800000)
    )
    (local.set $0
     (i32.const 0)
    )
    (loop $L2
     (local.set $1
      (f32x4.max
       (local.get $1)
       (v128.load align=4
        (i32.shl
         (i32.add
          (i32.mul
           (local.get $4)
           (i32.const 7)
          )
          (local.get $0)
         )
         (i32.const 2)
        )
       )
      )
     )
     (br_if $L2
      (i32.lt_s
       (local.tee $0
        (i32.add
         (local.get $0)
         (i32.const 4)
        )
       )
       (i32.const 4)
      )
     )
    )
    (local.set $5
     (f32.max
      (f32.max
       (f32.max
        (f32.max
         (f32x4.extract_lane 0
          (local.get $1)
         )
         (f32x4.extract_lane 1
          (local.get $1)
         )
        )
        (f32x4.extract_lane 2
         (local.get $1)
        )
       )
       (f32x4.extract_lane 3
        (local.get $1)
       )
      )
      (f32.const -inf)
     )
    )
    (local.set $0
     (i32.const 4)
    )
    (loop $L3
     (local.set $5
      (f32.max
       (local.get $5)
       (f32.load
        (i32.shl
         (i32.add
          (i32.mul
           (local.get $4)
           (i32.const 7)
          )
          (local.get $0)
         )
         (i32.const 2)
        )
       )
      )
     )
     (br_if $L3
      (i32.lt_s
       (local.tee $0
        (i32.add
         (local.get $0)
         (i32.const 1)
        )
       )
       (i32.const 7)
      )
     )
    )
    (local.set $1
     (v128.const i32x4 0x00000000 0x00000000 0x00000000 0x00000000)
    )
    (local.set $0
     (i32.const 0)
    )
    (loop $L4
     (local.set $3
      (f32x4.sub
       (local.tee $9
        (f32x4.add
         (f32x4.mul
          (local.tee $8
           (f32x4.pmax
            (f32x4.pmin
             (f32x4.sub
              (v128.load align=4
               (i32.shl
                (i32.add
                 (i32.mul
                  (local.get $4)
                  (i32.const 7)
                 )
                 (local.get $0)
                )
                (i32.const 2)
               )
              )
              (f32x4.splat
               (local.get $5)
              )
             )
             (v128.const i32x4 0x42b0c0a5 0x42b0c0a5 0x42b0c0a5 0x42b0c0a5)
            )
            (v128.const i32x4 0xc2aeac50 0xc2aeac50 0xc2aeac50 0xc2aeac50)
           )
          )
          (v128.const i32x4 0x3fb8aa3b 0x3fb8aa3b 0x3fb8aa3b 0x3fb8aa3b)
         )
         (v128.const i32x4 0x4b400000 0x4b400000 0x4b400000 0x4b400000)
        )
       )
       (v128.const i32x4 0x4b400000 0x4b400000 0x4b400000 0x4b400000)
      )
     )
     (v128.store offset=128 align=4
      (i32.shl
       (local.get $0)
       (i32.const 2)
      )
      (local.tee $3
       (f32x4.mul
        (f32x4.add
         (f32x4.mul
          (f32x4.add
           (f32x4.mul
            (f32x4.add
             (f32x4.mul
              (f32x4.add
               (f32x4.mul
                (f32x4.add
                 (f32x4.mul
                  (f32x4.add
                   (f32x4.mul
                    (v128.const i32x4 0x3ab60b61 0x3ab60b61 0x3ab60b61 0x3ab60b61)
                    (local.tee $3
                     (f32x4.sub
                      (f32x4.sub
                       (local.get $8)
                       (f32x4.mul
                        (local.get $3)
                        (v128.const i32x4 0x3f318000 0x3f318000 0x3f318000 0x3f318000)
                       )
                      )
                      (f32x4.mul
                       (local.get $3)
                       (v128.const i32x4 0xb95e8083 0xb95e8083 0xb95e8083 0xb95e8083)
                      )
                     )
                    )
                   )
                   (v128.const i32x4 0x3c088889 0x3c088889 0x3c088889 0x3c088889)
                  )
                  (local.get $3)
                 )
                 (v128.const i32x4 0x3d2aaaab 0x3d2aaaab 0x3d2aaaab 0x3d2aaaab)
                )
                (local.get $3)
               )
               (v128.const i32x4 0x3e2aaaab 0x3e2aaaab 0x3e2aaaab 0x3e2aaaab)
              )
              (local.get $3)
             )
             (v128.const i32x4 0x3f000000 0x3f000000 0x3f000000 0x3f000000)
            )
            (local.get $3)
           )
           (v128.const i32x4 0x3f800000 0x3f800000 0x3f800000 0x3f800000)
          )
          (local.get $3)
         )
         (v128.const i32x4 0x3f800000 0x3f800000 0x3f800000 0x3f800000)
        )
        (i32x4.shl
         (i32x4.add
          (local.get $9)
          (v128.const i32x4 0x0000007f 0x0000007f 0x0000007f 0x0000007f)
         )
         (i32.const 23)
        )
       )
      )
     )
     (local.set $1
      (f32x4.add
       (local.get $1)
       (local.get $3)
      )
     )
     (br_if $L4
      (i32.lt_s
       (local.tee $0
        (i32.add
         (local.get $0)
         (i32.const 4)
        )
       )
       (i32.const 4)
      )
     )
    )
    (local.set $6
     (f32.add
      (f32.add
       (f32.add
        (f32.add
         (f32x4.extract_lane 0
          (local.get $1)
         )
         (f32x4.extract_lane 1
          (local.get $1)
         )
        )
        (f32x4.extract_lane 2
         (local.get $1)
        )
       )
       (f32x4.extract_lane 3
        (local.get $1)
       )
      )
      (f32.const 0)
     )
    )
    (local.set $0
     (i32.const 4)
    )
    (loop $L5
     (local.set $2
      (f32.add
       (local.tee $11
        (f32.add
         (f32.mul
          (local.tee $10
           (f32.max
            (f32.min
             (f32.sub
              (f32.load
               (i32.shl
                (i32.add
                 (i32.mul
                  (local.get $4)
                  (i32.const 7)
                 )
                 (local.get $0)
                )
                (i32.const 2)
               )
              )
              (local.get $5)
             )
             (f32.const 88.37625885009766)
            )
            (f32.const -87.3365478515625)
           )
          )
          (f32.const 1.4426950216293335)
         )
         (f32.const 12582912)
        )
       )
       (f32.const -12582912)
      )
     )
     (f32.store offset=128
      (i32.shl
       (local.get $0)
       (i32.const 2)
      )
      (local.tee $2
       (f32.mul
        (f32.add
         (f32.mul
          (f32.add
           (f32.mul
            (f32.add
             (f32.mul
              (f32.add
               (f32.mul
                (f32.add
                 (f32.mul
                  (f32.add
                   (f32.mul
                    (local.tee $2
                     (f32.sub
                      (f32.sub
                       (local.get $10)
                       (f32.mul
                        (local.get $2)
                        (f32.const 0.693359375)
                       )
                      )
                      (f32.mul
                       (local.get $2)
                       (f32.const -2.1219444170128554e-04)
                      )
                     )
                    )
                    (f32.const 1.3888889225199819e-03)
                   )
                   (f32.const 0.008333333767950535)
                  )
                  (local.get $2)
                 )
                 (f32.const 0.0416666679084301)
                )
                (local.get $2)
               )
               (f32.const 0.1666666716337204)
              )
              (local.get $2)
             )
             (f32.const 0.5)
            )
            (local.get $2)
           )
           (f32.const 1)
          )
          (local.get $2)
         )
         (f32.const 1)
        )
        (f32.reinterpret_i32
         (i32.shl
          (i32.add
           (i32.reinterpret_f32
            (local.get $11)
           )
           (i32.const 127)
          )
          (i32.const 23)
         )
        )
       )
      )
     )
     (local.set $6
      (f32.add
       (local.get $6)
       (local.get $2)
      )
     )
     (br_if $L5
      (i32.lt_s
       (local.tee $0
        (i32.add
         (local.get $0)
         (i32.const 1)
        )
       )
       (i32.const 7)
      )
     )
    )
    (local.set $2
     (f32.div
      (f32.const 1)
      (local.get $6)
     )
    )
    (local.set $0
     (i32.const 0)
    )
    (loop $L6
     (v128.store offset=64 align=4
      (i32.shl
       (i32.add
        (i32.mul
         (local.get $4)
         (i32.const 7)
        )
        (local.get $0)
       )
       (i32.const 2)
      )
      (f32x4.mul
       (v128.load offset=128 align=4
        (i32.shl
         (local.get $0)
         (i32.const 2)
        )
       )
       (f32x4.splat
        (local.get $2)
       )
      )
     )
     (br_if $L6
      (i32.lt_s
       (local.tee $0
        (i32.add
         (local.get $0)
         (i32.const 4)
        )
       )
       (i32.const 4)
      )
     )
    )
    (local.set $0
     (i32.const 4)
    )
    (loop $L7
     (f32.store offset=64
      (i32.shl
       (i32.add
        (i32.mul
         (local.get $4)
         (i32.const 7)
        )
        (local.get $0)
       )
       (i32.const 2)
      )
      (f32.mul
       (f32.load offset=128
        (i32.shl
         (local.get $0)
         (i32.const 2)
        )
       )
       (local.get $2)
      )
     )
     (br_if $L7
      (i32.lt_s
       (local.tee $0
        (i32.add
         (local.get $0)
         (i32.const 1)
        )
       )
       (i32.const 7)
      )
     )
    )
    (br_if $L1
     (i32.le_s
      (local.tee $7
       (i32.add
        (local.get $7)
        (i32.const 1)
       )
      )
      (i32.const 0)
     )
    )
   )
   (br_if $L0
    (i32.lt_s
     (local.tee $4
      (i32.add
       (local.get $4)
       (i32.const 1)
      )
     )
     (i32.const 2)
    )
   )
  )
 )
 (func $run
  (call $k0_softmax)
 )
)
