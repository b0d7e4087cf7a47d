import SNNAMedia

// The scene's objects, painted far to near over the background SceneRenderer.swift paints: clutter, traffic
// lights, vehicles, pedestrians.

extension Painter {
    // MARK: objects, far to near

    mutating func paintObjects() {
        enum Item { case clutter(Clutter), light(TrafficLight), vehicle(Vehicle), pedestrian(Pedestrian) }
        var items: [(Double, Int, Item)] = []
        for c in scene.clutter { items.append((c.distance, items.count, .clutter(c))) }
        for l in scene.lights { items.append((l.distance, items.count, .light(l))) }
        for v in scene.vehicles { items.append((v.distance, items.count, .vehicle(v))) }
        for p in scene.pedestrians { items.append((p.distance, items.count, .pedestrian(p))) }
        items.sort { $0.0 != $1.0 ? $0.0 > $1.0 : $0.1 < $1.1 }
        for (z, _, item) in items where z > 0.8 {
            switch item {
            case .clutter(let c): paintClutter(c)
            case .light(let l): paintLight(l)
            case .vehicle(let v): paintVehicle(v)
            case .pedestrian(let p): paintPedestrian(p)
            }
        }
    }

    mutating func paintClutter(_ c: Clutter) {
        let z = c.distance, s = camera.scale(z), gy = camera.groundY(z), xc = camera.x(c.lateral, z)
        switch c.kind {
        case .tree:
            let trunk = lit(SceneColor(92, 66, 46), z)
            let th = 2.0 * c.size
            canvas.fillRect(xc - 0.18 * s * c.size, camera.y(above: th + 0.5, z), xc + 0.18 * s * c.size, gy, trunk)
            let greens = [SceneColor(46, 92, 42), SceneColor(62, 104, 48), SceneColor(38, 78, 46), SceneColor(78, 110, 52)]
            let base = greens[Int(c.tint * 4) % 4]
            let r = 1.7 * c.size * s
            let cy = camera.y(above: th + 1.6 * c.size, z)
            canvas.fillCircle(xc, cy, r, lit(base.scaled(0.8), z))
            canvas.fillCircle(xc - 0.6 * r, cy + 0.25 * r, 0.7 * r, lit(base.scaled(0.85), z))
            canvas.fillCircle(xc + 0.55 * r, cy + 0.2 * r, 0.75 * r, lit(base.scaled(0.75), z))
            canvas.fillCircle(xc - 0.25 * r, cy - 0.3 * r, 0.6 * r, lit(base.scaled(1.1), z))
            canvas.soft(xc, gy, 1.6 * r, 0.12 * r, SceneColor(0, 0, 0), alpha: 0.25)
        case .pole:
            let grey = lit(SceneColor(128, 128, 134), z)
            let top = 7.0 * c.size
            canvas.fillRect(xc - 0.08 * s, camera.y(above: top, z), xc + 0.08 * s, gy, grey)
            let towardRoad: Double = c.lateral > 0 ? -1 : 1
            let armEnd = xc + towardRoad * 1.6 * s
            canvas.fillRect(min(xc, armEnd), camera.y(above: top, z), max(xc, armEnd), camera.y(above: top - 0.12, z), grey)
            let head = SceneColor(60, 60, 64).scaled(palette.ambient)
            canvas.fillRect(armEnd - 0.35 * s, camera.y(above: top + 0.05, z), armEnd + 0.35 * s,
                            camera.y(above: top - 0.2, z), head)
            if scene.dusk {
                canvas.glow(armEnd, camera.y(above: top - 0.22, z), 1.2 * s, SceneColor(120, 100, 60), strength: 0.8)
            }
        case .building:
            let colors = [SceneColor(196, 180, 150), SceneColor(160, 150, 140), SceneColor(150, 90, 70),
                          SceneColor(120, 130, 140), SceneColor(210, 200, 185)]
            let wall = lit(colors[Int(c.tint * 5) % 5], z)
            let bw = 12 * c.size, bh = 8 + 10 * c.tint
            let x0 = xc - bw / 2 * s, x1 = xc + bw / 2 * s, y0 = camera.y(above: bh, z)
            canvas.fillRect(x0, y0, x1, gy, wall)
            canvas.fillRect(x0, y0, x1, camera.y(above: bh - 0.4, z), wall.scaled(0.8))
            let win = scene.dusk ? SceneColor(230, 190, 110) : lit(SceneColor(70, 85, 105), z)
            var floorY = 2.0
            var row = 0
            while floorY + 1.4 < bh {
                var wx = -bw / 2 + 1.0
                var col = 0
                while wx + 1.2 < bw / 2 {
                    let on = !scene.dusk || SceneRandom.unitHash(UInt64(c.tint * 1e6), UInt64(row * 64 + col)) < 0.45
                    let wc = on ? win : lit(SceneColor(50, 55, 65), z)
                    canvas.fillRect(xc + wx * s, camera.y(above: floorY + 1.4, z), xc + (wx + 1.2) * s,
                                    camera.y(above: floorY, z), wc)
                    wx += 2.2
                    col += 1
                }
                floorY += 3
                row += 1
            }
        }
    }

    mutating func paintLight(_ light: TrafficLight) {
        let z = light.distance, s = camera.scale(z)
        let housing = camera.lightHousing(light, scene: scene)
        let poleX = camera.x(camera.lightPoleLateral(light, scene: scene), z)
        let pole = lit(SceneColor(72, 74, 78), z)
        if light.placement == .overhead {
            canvas.fillRect(poleX - 0.09 * s, camera.y(above: 6.3, z), poleX + 0.09 * s, camera.groundY(z), pole)
            let hx = (housing.x0 + housing.x1) / 2
            canvas.fillRect(min(hx, poleX), camera.y(above: 6.2, z), max(hx, poleX), camera.y(above: 6.05, z), pole)
            canvas.fillRect(hx - 0.03 * s, camera.y(above: 6.1, z), hx + 0.03 * s, housing.y0, pole)
        } else {
            canvas.fillRect(poleX - 0.07 * s, housing.y1 - 1, poleX + 0.07 * s, camera.groundY(z), pole)
        }
        let dark = SceneColor(26, 27, 30).scaled(max(palette.ambient, 0.8))
        canvas.fillRect(housing.x0 - 0.03 * s, housing.y0 - 0.03 * s, housing.x1 + 0.03 * s, housing.y1 + 0.03 * s,
                        SceneColor(60, 62, 66).scaled(palette.ambient))
        canvas.fillRect(housing.x0, housing.y0, housing.x1, housing.y1, dark)
        let cx = (housing.x0 + housing.x1) / 2
        let states: [(TrafficLight.State, SceneColor, SceneColor)] = [
            (.red, SceneColor(255, 50, 38), SceneColor(70, 22, 22)),
            (.amber, SceneColor(255, 175, 30), SceneColor(70, 52, 18)),
            (.green, SceneColor(70, 255, 130), SceneColor(20, 56, 32)),
        ]
        for (k, (state, on, off)) in states.enumerated() {
            let cy = housing.y0 + (Double(k) + 0.5) / 3 * (housing.y1 - housing.y0)
            let r = 0.12 * s
            if state == light.state {
                canvas.glow(cx, cy, 5.0 * r, on.scaled(0.55 * palette.lightBoost), strength: 1)
                canvas.fillCircle(cx, cy, r, on)
                canvas.fillCircle(cx - 0.25 * r, cy - 0.25 * r, 0.45 * r, SceneColor(255, 250, 230), alpha: 0.6)
            } else {
                canvas.fillCircle(cx, cy, r, off.scaled(max(palette.ambient, 0.8)))
            }
        }
    }

    mutating func paintVehicle(_ v: Vehicle) {
        let z = v.distance, r = camera.vehicleRect(v)
        let x0 = r.x0, x1 = r.x1, y0 = r.y0, bottom = r.y1
        let w = x1 - x0, h = bottom - y0, xc = (x0 + x1) / 2
        let body = lit(v.color, z)
        let glass = lit(SceneColor(42, 50, 64), z)
        let tire = lit(SceneColor(22, 22, 24), z)
        // Shadow under the car.
        canvas.soft(xc, bottom - 0.02 * h, 0.62 * w, 0.09 * h, SceneColor(10, 10, 12), alpha: 0.7)
        canvas.fillRect(x0 + 0.03 * w, bottom - 0.2 * h, x0 + 0.2 * w, bottom, tire)
        canvas.fillRect(x1 - 0.2 * w, bottom - 0.2 * h, x1 - 0.03 * w, bottom, tire)
        let light: (Double, Double, Double, Double)   // left tail light: x0, y0, x1, y1
        var highMount: (Double, Double, Double, Double)
        if v.kind == .van {
            canvas.fillRect(x0, y0, x1, bottom - 0.1 * h, body)
            canvas.fillRect(x0 + 0.1 * w, y0 + 0.08 * h, x1 - 0.1 * w, y0 + 0.36 * h, glass)
            canvas.fillRect(xc - 0.005 * w, y0 + 0.4 * h, xc + 0.005 * w, bottom - 0.2 * h, body.scaled(0.7))
            light = (x0 + 0.025 * w, y0 + 0.46 * h, x0 + 0.12 * w, y0 + 0.72 * h)
            highMount = (xc - 0.1 * w, y0 + 0.02 * h, xc + 0.1 * w, y0 + 0.06 * h)
        } else {
            canvas.fillRect(x0, y0 + 0.42 * h, x1, bottom - 0.1 * h, body)
            canvas.fillPolygon([ScreenPoint(x0 + 0.07 * w, y0 + 0.43 * h), ScreenPoint(x1 - 0.07 * w, y0 + 0.43 * h),
                                ScreenPoint(x1 - 0.17 * w, y0), ScreenPoint(x0 + 0.17 * w, y0)], body.scaled(0.93))
            canvas.fillPolygon([ScreenPoint(x0 + 0.12 * w, y0 + 0.4 * h), ScreenPoint(x1 - 0.12 * w, y0 + 0.4 * h),
                                ScreenPoint(x1 - 0.2 * w, y0 + 0.07 * h), ScreenPoint(x0 + 0.2 * w, y0 + 0.07 * h)], glass)
            canvas.fillPolygon([ScreenPoint(x0 + 0.3 * w, y0 + 0.4 * h), ScreenPoint(x0 + 0.42 * w, y0 + 0.4 * h),
                                ScreenPoint(x0 + 0.52 * w, y0 + 0.07 * h), ScreenPoint(x0 + 0.4 * w, y0 + 0.07 * h)],
                               SceneColor(200, 210, 230), alpha: 0.12)
            canvas.fillRect(x0, y0 + 0.42 * h, x1, y0 + 0.45 * h, body.scaled(0.75))
            light = (x0 + 0.03 * w, y0 + 0.48 * h, x0 + 0.2 * w, y0 + 0.6 * h)
            highMount = (xc - 0.11 * w, y0 + 0.08 * h, xc + 0.11 * w, y0 + 0.12 * h)
        }
        canvas.fillRect(x0 + 0.01 * w, bottom - 0.22 * h, x1 - 0.01 * w, bottom - 0.1 * h, body.scaled(0.55))
        canvas.fillRect(xc - 0.12 * w, bottom - 0.34 * h, xc + 0.12 * w, bottom - 0.24 * h, lit(SceneColor(232, 232, 222), z))
        let lights = [light, (x1 - (light.2 - x0), light.1, x1 - (light.0 - x0), light.3)]
        let boost = palette.lightBoost
        for (lx0, ly0, lx1, ly1) in lights {
            let cx = (lx0 + lx1) / 2, cy = (ly0 + ly1) / 2
            if v.braking {
                canvas.glow(cx, cy, 0.42 * w, SceneColor(255, 40, 25).scaled(0.75 * boost), strength: 1)
                canvas.fillRect(lx0, ly0, lx1, ly1, SceneColor(255, 48, 40))
                canvas.fillRect(lx0 + 0.25 * (lx1 - lx0), ly0 + 0.25 * (ly1 - ly0), lx1 - 0.25 * (lx1 - lx0),
                                ly1 - 0.25 * (ly1 - ly0), SceneColor(255, 170, 150))
            } else if scene.dusk {
                canvas.glow(cx, cy, 0.22 * w, SceneColor(200, 25, 20).scaled(0.5), strength: 1)
                canvas.fillRect(lx0, ly0, lx1, ly1, SceneColor(190, 30, 28))
            } else {
                canvas.fillRect(lx0, ly0, lx1, ly1, lit(SceneColor(150, 28, 30), z))
            }
        }
        if v.braking {
            canvas.fillRect(highMount.0, highMount.1, highMount.2, highMount.3, SceneColor(255, 50, 40))
            canvas.glow((highMount.0 + highMount.2) / 2, (highMount.1 + highMount.3) / 2, 0.15 * w,
                        SceneColor(255, 40, 25).scaled(0.5 * boost), strength: 1)
        }
    }

    mutating func paintPedestrian(_ p: Pedestrian) {
        let z = p.distance, s = camera.scale(z), gy = camera.groundY(z), xc = camera.x(p.lateral, z)
        let H = p.height
        func yAt(_ f: Double) -> Double { gy - f * H * s }
        let a = 4 * abs(p.stride - (p.stride.rounded(.down)) - 0.5) - 1   // triangle wave in [-1, 1]
        let hipY = yAt(0.48), legW = 0.065 * s
        let trousers = lit(p.trousers, z), shirt = lit(p.shirt, z), skin = lit(p.skin, z)
        canvas.soft(xc, gy, 0.35 * s, 0.06 * s, SceneColor(0, 0, 0), alpha: 0.35)
        for side in [-1.0, 1.0] {
            let hipX = xc + side * 0.07 * s, footX = xc + side * 0.07 * s + side * a * 0.2 * s
            canvas.fillPolygon([ScreenPoint(hipX - legW, hipY), ScreenPoint(hipX + legW, hipY),
                                ScreenPoint(footX + legW, gy - 0.04 * s), ScreenPoint(footX - legW, gy - 0.04 * s)],
                               side < 0 ? trousers : trousers.scaled(0.85))
            canvas.fillRect(footX - 1.4 * legW, gy - 0.06 * s, footX + 1.4 * legW, gy, lit(SceneColor(30, 28, 28), z))
        }
        for side in [-1.0, 1.0] {
            let sx = xc + side * 0.21 * s, hx = xc + side * 0.24 * s - side * a * 0.12 * s
            canvas.fillPolygon([ScreenPoint(sx - 0.05 * s, yAt(0.8)), ScreenPoint(sx + 0.05 * s, yAt(0.8)),
                                ScreenPoint(hx + 0.045 * s, yAt(0.47)), ScreenPoint(hx - 0.045 * s, yAt(0.47))],
                               shirt.scaled(0.82))
            canvas.fillCircle(hx, yAt(0.455), 0.045 * s, skin)
        }
        canvas.fillPolygon([ScreenPoint(xc - 0.21 * s, yAt(0.82)), ScreenPoint(xc + 0.21 * s, yAt(0.82)),
                            ScreenPoint(xc + 0.17 * s, yAt(0.47)), ScreenPoint(xc - 0.17 * s, yAt(0.47))], shirt)
        canvas.fillRect(xc - 0.05 * s, yAt(0.86), xc + 0.05 * s, yAt(0.81), skin)
        let hr = 0.065 * H * s, hy = yAt(0.905)
        canvas.fillCircle(xc, hy - 0.2 * hr, hr, lit(SceneColor(45, 32, 25), z))
        canvas.fillCircle(xc, hy + 0.12 * hr, 0.86 * hr, skin)
    }
}
